// The SMMUv3 model's caches: configuration cache (STE + CD), TLB and one
// walk cache per level — fixed-size set-associative arrays of POD entries.
//
// Layout (so that a later step can make translate() safe against
// concurrent invalidation without redesign): one array of sets, each its
// metadata (SetMeta) followed by its ways. A set's 32-bit sequence word is
// bumped by every writer (odd while the set is being changed, even when
// stable). A reader that wants seqlock semantics reads the sequence, the
// ways, and the sequence again; invalidations bump the sequence of every
// set they touch. Tags are one 64-bit word with a valid bit, so a torn
// entry never matches; a fill (Fill()) stores the other fields one by one
// and the tag last. A set's sequence word sits next to its round-robin
// victim index and its ways, so a fill of a small set touches one host
// cache line.
// Replacement is round-robin per set: deterministic, no hashing of host
// pointers.
//
// IHI 0070 16.2 ("Caching") permits caching STEs, CDs, TLB entries and
// intermediate walk entries, and requires them to be invalidated only by
// the commands of chapter 4; the model forgets an entry only on those
// commands or on eviction.
//
// Thread-safety: thread-compatible (see above for the planned scheme).
#ifndef SVAEMU_HW_SMMUV3_CACHES_H_
#define SVAEMU_HW_SMMUV3_CACHES_H_

#include <cstdint>
#include <string>

#include "svaemu/arch/arm64.h"
#include "svaemu/base/check.h"
#include "svaemu/base/strong_types.h"
#include "svaemu/hw/set_array.h"
#include "svaemu/sim/cache_counts.h"
#include "svaemu/sim/stats.h"

namespace svaemu::hw::smmuv3 {

struct CacheGeometry {
  uint32_t sets = 64;  // power of two
  uint32_t ways = 4;
  uint32_t entries() const { return sets * ways; }
};

// A cache's counts (sim::CacheCounts), registered with unit "entries".
using CacheCounters = sim::CacheCounts;

inline constexpr uint64_t kTagValid = 1ull << 63;

// A set of a SetAssocCache (SetAssocCache::At): a miss path that probes a
// set and later fills it keeps this rather than recomputing it.
using hw::CacheSet;

template <typename Entry>
class SetAssocCache {
 public:
  SetAssocCache() = default;
  SetAssocCache(const SetAssocCache&) = delete;
  SetAssocCache& operator=(const SetAssocCache&) = delete;

  void Init(CacheGeometry g) {
    SVAEMU_CHECK(g.sets > 0 && (g.sets & (g.sets - 1)) == 0 && g.ways > 0 && g.ways <= 0xffff);
    ways_ = g.ways;
    set_mask_ = g.sets - 1;
    sets_.Init(g.sets, g.ways, [](uint32_t) { return SetMeta{}; }, Entry{});
  }
  uint32_t ways() const { return ways_; }
  uint32_t sets() const { return set_mask_ + 1; }
  uint32_t SetOf(uint64_t hash) const {
    return static_cast<uint32_t>(hash) & set_mask_;
  }
  CacheSet At(uint32_t set) const { return sets_.At(set); }
  // At(SetOf(hash)): the set a probe of that hash looks in.
  CacheSet SetFor(uint64_t hash) const { return At(SetOf(hash)); }
  static Entry* Ways(CacheSet s) { return Sets::Ways(s); }
  const Entry* SetBegin(uint32_t set) const { return Ways(At(set)); }
  Entry* SetBegin(uint32_t set) { return Ways(At(set)); }

  // The way holding `tag` in `set`, or nullptr. (4 ways, the default
  // geometry of every cache, is unrolled.)
  Entry* Find(uint32_t set, uint64_t tag) { return Find(At(set), tag); }
  Entry* Find(CacheSet s, uint64_t tag) {
    Entry* e = Ways(s);
    if (ways_ == 4) [[likely]] {
      if (e[0].tag == tag) return &e[0];
      if (e[1].tag == tag) return &e[1];
      if (e[2].tag == tag) return &e[2];
      if (e[3].tag == tag) return &e[3];
      return nullptr;
    }
    for (uint32_t w = 0; w < ways_; ++w) {
      if (e[w].tag == tag) return &e[w];
    }
    return nullptr;
  }

  // The slot for a tag that Find(s, tag) just missed, with no fill of this
  // set since: the first invalid way, else the round-robin victim
  // (*evicted = true). The set's count of valid ways (SetMeta::valid)
  // saves the search for an invalid way when the set is full, the common
  // case of a fill.
  Entry* SlotAfterMiss(CacheSet s, bool* evicted) {
    *evicted = false;
    Entry* e = Ways(s);
    SetMeta& m = MetaOf(s);
    if (m.valid < ways_) [[unlikely]] {
      for (uint32_t w = 0; w < ways_; ++w) {
        if (e[w].tag == 0) {
          ++m.valid;
          return &e[w];
        }
      }
      SVAEMU_CHECK(false && "SetMeta::valid out of step with the set");
    }
    *evicted = true;
    const uint32_t w = m.victim;
    // The next victim, w + 1 or 0 after the last way, without a branch:
    // how often a set wraps depends on the addresses, and a branch on it
    // was the cold miss's one mispredicted branch (about one in two
    // misses; docs/performance.md, nineteenth session).
    const uint32_t next = w + 1;
    m.victim = ways_ == 4
                   ? static_cast<uint16_t>(next & 3)  // the default geometry
                   : static_cast<uint16_t>(next & (0u - static_cast<uint32_t>(next != ways_)));
    return &e[w];
  }
  // Fills the way already holding `tag`, else SlotAfterMiss()'s: between
  // BeginWrite/EndWrite, write(entry) for the fields other than the tag,
  // then the tag (fields are stored one by one: copying a whole entry built
  // on the stack would reload bytes just stored). True if a valid entry
  // was evicted.
  template <typename Write>
  bool Fill(uint32_t set, uint64_t tag, Write write) {
    return Fill(At(set), tag, write);
  }
  template <typename Write>
  bool Fill(CacheSet s, uint64_t tag, Write write) {
    bool evicted = false;
    Entry* slot = Find(s, tag);
    if (slot == nullptr) slot = SlotAfterMiss(s, &evicted);
    FillAt(s, tag, slot, write);
    return evicted;
  }
  // Fill() of a tag that Find(s, tag) just missed, with no fill of this
  // set since (SlotAfterMiss).
  template <typename Write>
  bool FillAfterMiss(CacheSet s, uint64_t tag, Write write) {
    bool evicted;
    Entry* slot = SlotAfterMiss(s, &evicted);
    FillAt(s, tag, slot, write);
    return evicted;
  }

  // Invalidates every valid entry for which pred(entry) holds; returns the
  // number invalidated.
  template <typename Pred>
  uint64_t InvalidateIf(Pred pred) {
    uint64_t n = 0;
    for (uint32_t set = 0; set <= set_mask_; ++set) {
      const CacheSet s = At(set);
      Entry* e = Ways(s);
      bool touched = false;
      for (uint32_t w = 0; w < ways_; ++w) {
        if (e[w].tag != 0 && pred(e[w])) {
          if (!touched) {
            BeginWrite(s);
            touched = true;
          }
          e[w].tag = 0;
          --MetaOf(s).valid;
          ++n;
        }
      }
      if (touched) EndWrite(s);
    }
    return n;
  }
  uint64_t CountValid() const {
    uint64_t n = 0;
    for (uint32_t set = 0; set <= set_mask_; ++set) {
      const Entry* e = SetBegin(set);
      for (uint32_t w = 0; w < ways_; ++w) n += e[w].tag != 0;
    }
    return n;
  }
  uint32_t sequence(uint32_t set) const { return MetaOf(At(set)).seq; }

 private:
  // Per set, before its ways: the sequence word, the round-robin victim
  // and the number of valid ways (a fill touches them together).
  struct SetMeta {
    uint32_t seq = 0;
    uint16_t victim = 0;
    uint16_t valid = 0;
  };
  static_assert(sizeof(SetMeta) == 8);
  using Sets = SetArray<SetMeta, Entry>;
  static SetMeta& MetaOf(CacheSet s) { return Sets::MetaOf(s); }
  static void BeginWrite(CacheSet s) { ++MetaOf(s).seq; }
  static void EndWrite(CacheSet s) { ++MetaOf(s).seq; }

  template <typename Write>
  static void FillAt(CacheSet s, uint64_t tag, Entry* slot, Write write) {
    BeginWrite(s);
    write(*slot);
    slot->tag = tag;
    EndWrite(s);
  }

  uint32_t ways_ = 0;
  uint32_t set_mask_ = 0;
  Sets sets_;
};

// Access kinds a cached translation allows with nothing else to do (no
// permission fault, no dirty-state update). Bit = 1 << (3 * priv + kind),
// kind 0 read, 1 write, 2 exec; a write is a write whatever its INST
// attribute (13.1.2: the SMMU treats every write as Data).
constexpr uint8_t AccessBit(bool write, bool exec, bool priv) {
  return static_cast<uint8_t>(1u << ((priv ? 3 : 0) + (write ? 1 : (exec ? 2 : 0))));
}
// 13.1.2: whether a transaction is an instruction fetch, as the SMMU checks
// and reports it (InD): a read marked instruction; a write is always Data.
constexpr bool IsInstruction(bool write, bool exec) { return exec && !write; }

// Configuration cache entry: one (StreamID, SSV, SubstreamID) resolved
// through its STE and CD.
struct CfgEntry {
  enum Kind : uint8_t { kTranslate, kBypass, kAbort };
  uint64_t tag = 0;  // CfgTag(); 0 = invalid
  uint16_t asid = 0;
  Kind kind = kAbort;
  // From the STE.
  uint32_t sid = 0;
  uint32_t cd_index = 0;  // CD used (0 for no-SSID traffic); with_cd
  bool with_cd = false;
  uint8_t eats = 0;
  bool ppar = false;
  // 5.2 STE.PRIVCFG/INSTCFG as they apply (kCfgIncoming without IDR1.
  // ATTR_PERMS_OVR, and for the reserved 0b01). An entry that overrides is
  // never the inline check's: its requests take the general path.
  uint8_t privcfg = 0, instcfg = 0;
  bool OverridesAttrs() const { return (privcfg | instcfg) != 0; }
  // From the CD.
  bool epd0 = false, epd1 = false, ha = false, hd = false;
  bool had0 = false, had1 = false, affd = false;
  bool tbi0 = false, tbi1 = false;  // 3.4.1: VA[63:56] ignored, per half
  bool pan = false, wxn = false;    // 5.4: checked by the walker
  // kOkPan | kOkWxn as the CD sets them: index bits of the table of the
  // rights a TLB entry grants (translate.cc, kOkBitsOf).
  static constexpr uint8_t kOkPan = 16, kOkWxn = 32;
  uint8_t ok_controls = 0;
  bool stall = false;   // CD.S (or STALL_MODEL forced)
  bool record = true;   // CD.R
  uint8_t oa_bits = 48; // min(CD.IPS, IDR5.OAS)
  PhysAddr ttb0, ttb1;
  // Checker bookkeeping: the frame-shadow space of each root when the CD
  // was fetched (not architecture; see docs/smmuv3.md).
  SpaceId space0, space1;
  // The stage-1 walkers for this CD (TCR bits, OA size), built at the fill
  // (arch/walker.h), by VA[63]: TTB0's and TTB1's (they differ in HADx).
  arch::Arm64Walker walkers[2];
  const arch::Arm64Walker& WalkerFor(uint64_t va) const { return walkers[va >> 63]; }
};

// (StreamID, SSV, SubstreamID) -> tag.
constexpr uint64_t CfgTag(uint32_t sid, bool ssv, uint32_t ssid) {
  return kTagValid | (uint64_t{sid} << 21) | (uint64_t{ssv} << 20) |
         (ssid & 0xfffff);
}
constexpr uint64_t CfgHash(uint64_t tag) {
  return (tag >> 21) * 0x9e3779b1u ^ (tag & 0xfffff) * 0x85ebca6bu ^
         ((tag >> 20) & 1);
}

// TLB entry: a 4 KiB page of a leaf (larger leaves are cached as the 4 KiB
// pieces that are used; an invalidation covering any part of the leaf drops
// every piece, via leaf_level).
struct TlbEntry {
  uint64_t tag = 0;   // TlbTag(); 0 = invalid
  uint64_t pa = 0;    // page base
  uint8_t ok = 0;     // AccessBit()s
  uint8_t leaf_level = 1;
  bool global = false;
  uint16_t asid = 0;
};

// Canonical VA (VA[63:48] all zeros or all ones) with ASID -> tag: VPN in
// [35:0], the TTB half in [36], ASID in [52:37]. (No VMID: stage 2 is not
// modelled, so every entry is VMID 0.)
constexpr uint64_t TlbTag(uint16_t asid, uint64_t va) {
  return kTagValid | (uint64_t{asid} << 37) | ((va >> 63) << 36) |
         ((va >> 12) & ((1ull << 36) - 1));
}
constexpr uint64_t TlbHash(uint64_t tag) {
  return (tag & ((1ull << 37) - 1)) ^ ((tag >> 37) & 0xffff) * 0x9e37u;
}
constexpr bool Canonical48(uint64_t va) {
  return static_cast<uint64_t>(static_cast<int64_t>(va << 16) >> 16) == va;
}

// Walk-cache entry for level L (2..4): the table descriptor read at level L
// for a VA, i.e. where the walk continues at level L-1, with the
// hierarchical permissions accumulated down to it.
struct WalkEntry {
  uint64_t tag = 0;  // WalkTag(); 0 = invalid
  uint64_t table = 0;
  uint32_t perms = 0;  // accumulated down to (and including) this entry,
                       // as arch::PermsIndex() bits
  uint16_t asid = 0;
};
constexpr unsigned WalkShift(uint8_t level) { return 12 + 9 * (level - 1); }
// A walk cache's set hash of a WalkTag() (the probes and fills of every
// level).
constexpr uint64_t WalkHash(uint64_t tag) { return tag ^ (tag >> 17); }
constexpr uint64_t WalkTag(uint16_t asid, uint64_t va, uint8_t level) {
  const unsigned shift = WalkShift(level);
  return kTagValid | (uint64_t{asid} << 37) | ((va >> 63) << 36) |
         ((va >> shift) & ((1ull << (48 - shift)) - 1));
}
// WalkTag() from the TlbTag() of the same ASID and VA: the same valid bit,
// ASID and half, and the VPN shifted down to the bits above the level's
// table (fewer instructions than from the VA).
constexpr uint64_t WalkTagOf(uint64_t tlb_tag, uint8_t level) {
  constexpr uint64_t kVpn = (1ull << 36) - 1;
  return (tlb_tag & ~kVpn) | ((tlb_tag & kVpn) >> (9 * (level - 1)));
}

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_CACHES_H_
