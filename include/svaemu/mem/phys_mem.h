// PhysMem: sparse emulated physical memory of 4 KiB frames, with the checker.
//
// The physical address space is configurable (default 64 GiB); an untouched
// frame costs nothing and reads as zero. Reads and writes are little-endian,
// 8/16/32/64 bits, at any alignment (an access that crosses a frame is split
// into bytes); CompareExchange64 is the hardware's atomic update of a paging
// entry. Every access carries an Access: the agent, the purpose, and for
// page-table walks the level, the address space and the virtual address the
// walker believes it is translating.
//
// An access outside the physical address space does not crash: reads return
// all-ones (a PCIe master abort) and report false; writes are dropped and
// report false. The hardware model that issued it turns that into its own
// fault (F_WALK_EABT, a VT-d fault reason).
//
// Checker: with checking on (default), a kPageTableWalk read of a tracked
// frame that is free, or that is no longer a page table of the expected
// space, level and range, reports kWalkThroughFreedFrame or
// kWalkThroughReusedFrame; a kAdUpdate write (or compare-exchange) into a
// tracked frame that is not such a page table reports
// kAdWriteToNonTableFrame. One report per offending access.
//
// Host resources: the physical address space is reserved as host address
// space up front (read-only, nothing committed; PhysMemConfig::
// flat_bytes_max caps it), and the host commits a page on its first write.
//
// Thread-safety: thread-compatible. Reads of frames that already exist never
// allocate; the first write to a frame (or region) allocates its storage.
#ifndef SVAEMU_MEM_PHYS_MEM_H_
#define SVAEMU_MEM_PHYS_MEM_H_

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "svaemu/base/agent.h"
#include "svaemu/base/bits.h"
#include "svaemu/base/strong_types.h"
#include "svaemu/mem/frame_shadow.h"

namespace svaemu::sim {
class Simulation;
}

namespace svaemu::mem {

struct Access {
  Agent agent;
  Purpose purpose = Purpose::kData;
  uint8_t level = 0;         // walks/A-D: paging level of the entry
  SpaceId space = kNoSpace;  // walks/A-D: space the walker is translating
  VirtAddr va;               // walks/A-D: address being translated

  static Access Cpu(Purpose p = Purpose::kData) {
    Access a;
    a.agent = Agent::Cpu();
    a.purpose = p;
    return a;
  }
};

struct PhysMemConfig {
  uint64_t size_bytes = 64ull << 30;
  bool check_walks = true;
  // At most this much host address space is reserved up front for the
  // flat part of memory (see PhysMem's private notes; rounded down to
  // 16 MiB). Memory above it is mapped per 16 MiB region on first touch
  // and read through the out-of-line path: same values, same checks,
  // slower. The default reserves all of memory when the host allows it.
  uint64_t flat_bytes_max = ~0ull;
};

enum class CasResult { kSwapped, kMismatch, kAbort };

class PhysMem {
 public:
  static constexpr uint64_t kFrameSize = kPageSize4K;

  PhysMem(sim::Simulation& sim, PhysMemConfig config = {});
  ~PhysMem();
  PhysMem(const PhysMem&) = delete;
  PhysMem& operator=(const PhysMem&) = delete;

  uint64_t size() const { return size_; }
  bool Contains(PhysAddr pa, uint64_t len = 1) const {
    return len <= size_ && pa.value() <= size_ - len;
  }
  sim::Simulation& sim() const { return sim_; }
  void set_check_walks(bool on) { check_walks_ = on; }

  // Reads. On an address outside memory: *out = all ones, returns false.
  bool Read8(PhysAddr pa, const Access& a, uint8_t* out);
  bool Read16(PhysAddr pa, const Access& a, uint16_t* out);
  bool Read32(PhysAddr pa, const Access& a, uint32_t* out);
  inline bool Read64(PhysAddr pa, const Access& a, uint64_t* out);
  // Convenience forms: all ones on abort.
  uint64_t Read64(PhysAddr pa, const Access& a) {
    uint64_t v;
    Read64(pa, a, &v);
    return v;
  }
  uint32_t Read32(PhysAddr pa, const Access& a) {
    uint32_t v;
    Read32(pa, a, &v);
    return v;
  }

  // Writes. Dropped (returns false) outside memory.
  bool Write8(PhysAddr pa, uint8_t v, const Access& a);
  bool Write16(PhysAddr pa, uint16_t v, const Access& a);
  bool Write32(PhysAddr pa, uint32_t v, const Access& a);
  bool Write64(PhysAddr pa, uint64_t v, const Access& a);

  // Atomic 64-bit compare-exchange of a naturally aligned word. On
  // kMismatch, *expected receives the current value.
  CasResult CompareExchange64(PhysAddr pa, uint64_t* expected,
                              uint64_t desired, const Access& a);

  bool ReadBytes(PhysAddr pa, std::span<uint8_t> out, const Access& a);
  bool WriteBytes(PhysAddr pa, std::span<const uint8_t> in, const Access& a);
  // Zeroes a whole frame (pa is rounded down to its frame).
  void ZeroFrame(PhysAddr pa);

  // Frame shadow. Meta() of an untouched frame is a default (kUntracked)
  // FrameMeta. MutableMeta() is for the FrameAllocator.
  const FrameMeta& Meta(PhysAddr pa) const;
  FrameMeta& MutableMeta(PhysAddr pa);

  // Number of frames whose bytes have storage (touched by a write).
  uint64_t resident_frames() const { return resident_frames_; }

 private:
  friend class WalkReader;

  // Two-level sparse table: a region is 4096 frames (16 MiB), created on
  // first touch. A region has one 64-byte slot per frame (the frame's shadow
  // and whether its bytes are resident) and one 16 MiB block of bytes,
  // committed by the host page by page on first write; untouched frames
  // read as zero.
  //
  // The blocks are carved out of one flat host reservation of the physical
  // address space (read-only, the host's shared zero page, until a region
  // is first written and made writable), so that the hot reads (Read64,
  // WalkReader) load bytes at flat_ + pa: no region lookup, and a walk's
  // chain of dependent loads is one load per level. Where the host cannot
  // reserve that much address space (a ulimit, or a tool such as Valgrind
  // with a smaller address space) the flat part is the largest prefix it
  // can reserve, the rest of memory gets a block per region on first touch,
  // and reads there take the out-of-line path.
  //
  // The shadow of the flat part is flat as well (flat_meta_, a slot per
  // frame at flat_meta_ + (pa >> 12) * 64, reserved read-only alongside):
  // a touched region's RegionMeta is placed there, and an untouched one
  // reads as zero bytes, which is the default (untracked) shadow. So the
  // walker's shadow test is one load, not two dependent ones. The region
  // table still points an untouched region at the zero region's shadow
  // (Touched()), as it does above the flat part.
  static constexpr unsigned kRegionShift = 24;
  static constexpr uint64_t kRegionSize = 1ull << kRegionShift;
  static constexpr uint64_t kFramesPerRegion = 1ull << (kRegionShift - 12);
  struct alignas(64) Slot {
    FrameMeta meta;
    bool resident = false;  // written at least once
  };
  static_assert(sizeof(Slot) == 64, "one cache line of shadow per frame");
  struct RegionMeta {
    std::array<Slot, kFramesPerRegion> slots;
  };
  static_assert(sizeof(RegionMeta) == kFramesPerRegion * 64);
  // Those of the flat part live in its reservation and are never destroyed.
  static_assert(std::is_trivially_destructible_v<RegionMeta>);
  // A region never touched shares one read-only zero region (all bytes
  // zero, every frame untracked), so reads need no "is it there" test.
  struct Region {
    uint8_t* bytes = nullptr;  // kRegionSize bytes, zero until written
    RegionMeta* meta = nullptr;
  };
  static const Region& ZeroRegion();
  static bool Touched(const Region& r) { return r.meta != ZeroRegion().meta; }

  static const Slot& SlotIn(const Region& r, uint64_t pa) {
    return r.meta->slots[(pa >> 12) & (kFramesPerRegion - 1)];
  }
  // The slot of a frame in the flat part (pa < flat_size_).
  static const Slot& FlatSlot(const uint8_t* flat_meta, uint64_t pa) {
    return *reinterpret_cast<const Slot*>(flat_meta + (pa >> 12) * sizeof(Slot));
  }
  const Slot* SlotFor(uint64_t pa) const {
    const Region& r = regions_[pa >> kRegionShift];
    return Touched(r) ? &SlotIn(r, pa) : nullptr;
  }
  // Frame bytes for reading (zeros if never written).
  const uint8_t* FrameForRead(uint64_t pa) const {
    const Region& r = regions_[pa >> kRegionShift];
    return r.bytes + (pa & (kRegionSize - 1) & ~(kFrameSize - 1));
  }
  uint8_t* FrameForWrite(uint64_t pa);
  Region& RegionFor(uint64_t pa);

  bool Read64Slow(PhysAddr pa, const Access& a, uint64_t* out);
  template <typename T>
  bool ReadT(PhysAddr pa, const Access& a, T* out);
  template <typename T>
  bool WriteT(PhysAddr pa, T v, const Access& a);

  // True when a walk/A-D access to a frame with meta `m` is what the walker
  // expects: untracked, or a page table of the right space, level and range.
  static bool ExpectedTable(const FrameMeta& m, const Access& a) {
    if (m.use == FrameUse::kUntracked) return true;
    if (m.use != FrameUse::kPageTable) return false;
    if (a.level != 0 && m.level != a.level) return false;
    if (a.space != kNoSpace && m.space != a.space &&
        (m.flags & kFrameShared) == 0) {
      return false;
    }
    if ((m.flags & kFrameRoot) == 0 && m.level != 0) {
      const unsigned shift = 12 + 9 * m.level;  // bytes one table translates
      if (shift < 64 && (a.va.value() >> shift) != (m.va_base.value() >> shift))
        return false;
    }
    return true;
  }
  // Fast form of ExpectedTable for the common outcomes, on the packed head
  // of the shadow (FrameMetaHead): true when the frame is untracked, or a
  // page table of `level` and of `expect`'s space (any space when `mask`
  // leaves the space out, i.e. a.space == kNoSpace) covering `va`. `expect`
  // is FrameMetaHeadOf(kPageTable, 0, 0, space). False means "ask
  // ExpectedTable" (shared tables of another space, violations).
  // The level is taken off the head rather than added to `expect`: a head
  // of another level keeps a non-zero level byte (a borrow only reaches the
  // bytes above it), so the compare is the same, and `expect` stays one
  // value for every level of a walk. The range test comes before the root
  // flag's: it passes for every table but a root read for a VA its va_base
  // does not share the top bits of (the upper half), so the common read
  // makes one test, not two.
  static bool FastExpected(const FrameMeta& m, uint64_t expect, uint64_t mask,
                           unsigned level, uint64_t va) {
    const uint64_t head = FrameMetaHead(m);
    if (((head - level * FrameMetaHeadLevel(1)) & mask) == expect) [[likely]] {
      return ((va ^ m.va_base.value()) >> (12 + 9 * level)) == 0 ||
             (head & FrameMetaHeadFlag(kFrameRoot)) != 0;
    }
    return (head & kFrameMetaHeadUseMask) == 0;  // kUntracked
  }
  static bool IsChecked(Purpose p) {
    return p == Purpose::kPageTableWalk || p == Purpose::kAdUpdate;
  }
  bool Checked(const Access& a) const {
    return check_walks_ && IsChecked(a.purpose);
  }
  void CheckAccess(PhysAddr pa, const Access& a) {
    if (!Checked(a)) return;
    const Slot* s = SlotFor(pa.value());
    if (s == nullptr) return;  // never allocated: untracked
    if (!ExpectedTable(s->meta, a)) ReportUnexpected(pa, a, s->meta);
  }
  // Out of line: the full check and, if it fails, the report.
  void CheckSlow(PhysAddr pa, const Access& a, const FrameMeta& m);
  void ReportUnexpected(PhysAddr pa, const Access& a, const FrameMeta& m);

  sim::Simulation& sim_;
  uint64_t size_;
  bool check_walks_;
  std::vector<Region> regions_;
  uint8_t* flat_ = nullptr;   // bytes of [0, flat_size_) at flat_ + pa
  // Shadow slots of [0, flat_size_): the slot of pa at flat_meta_ +
  // (pa >> 12) * sizeof(Slot).
  uint8_t* flat_meta_ = nullptr;
  // As many zero bytes, read-only (the walker's shadow with checking off).
  uint8_t* zero_meta_ = nullptr;
  uint64_t flat_size_ = 0;    // a multiple of kRegionSize
  uint64_t fast_limit_ = 0;   // min(flat_size_, size_): the inline reads
  uint64_t resident_frames_ = 0;
};

// The page-table walker's read path (arch::internal::RunWalk). One reader
// serves one walk: Read(pa, level, &v) is exactly
// mem.Read64(pa, Access{agent, kPageTableWalk, level, space, va}, &v) —
// same value, same checks, same reports — with the per-walk part of the
// check (expected use and space; with checking off, a shadow of zeros,
// which passes) computed once. It takes set_check_walks() as it is at
// construction: construct one per walk.
class WalkReader {
 public:
  [[gnu::always_inline]] WalkReader(PhysMem& mem, Agent agent, SpaceId space, VirtAddr va)
      : mem_(&mem),
        flat_meta_(mem.check_walks_ ? mem.flat_meta_ : mem.zero_meta_),
        flat_(mem.flat_),
        size_words_(mem.fast_limit_ >> 3),
        va_(va.value()),
        expect_(FrameMetaHeadOf(FrameUse::kPageTable, 0, 0, space)),
        mask_(FrameMetaHeadUseLevelMask(space != kNoSpace)),
        agent_(agent),
        space_(space) {}

  // `level` must be 1..5 (the walker's levels).
  [[gnu::always_inline]] bool Read(PhysAddr pa, uint8_t level, uint64_t* out) {
    const uint64_t p = pa.value();
    if (!InFlat(p)) [[unlikely]] {
      return ReadSlow(*mem_, pa, level, agent_, space_, va_, out);
    }
    // An untouched region's shadow and bytes read as zeros (untracked
    // frames, zero entries); so does every frame's with checking off.
    const FrameMeta& m = MetaOf(p);
    if (!Expected(m, level)) [[unlikely]] CheckSlow(*mem_, pa, level, agent_, space_, va_, m);
    std::memcpy(out, flat_ + p, 8);
    return true;
  }

  // Read() when it is a plain load: aligned, inside the flat part, and
  // the frame what the walk expects by the inline test. Else
  // false, having done nothing observable (no report, no slow read): the
  // caller then reads with Read(), which takes those paths.
  // `pa` must be 8-byte aligned (TryWalkFast's entries are: its start
  // table is, and every next table is a masked frame address).
  [[gnu::always_inline]] bool TryRead(PhysAddr pa, uint8_t level, uint64_t* out) const {
    const uint64_t p = pa.value();
    if (p >= size_words_ * 8 || !Expected(MetaOf(p), level)) return false;
    std::memcpy(out, flat_ + p, 8);
    return true;
  }

  Access MakeAccess(Purpose p, uint8_t level) const {
    return MakeAccess(p, level, agent_, space_, va_);
  }

 private:
  // Aligned and inside the flat part, in one compare: a misaligned address
  // rotates its low bits to the top.
  [[gnu::always_inline]] bool InFlat(uint64_t p) const { return std::rotr(p, 3) < size_words_; }
  // The shadow of a frame in the flat part (InFlat(p)).
  [[gnu::always_inline]] const FrameMeta& MetaOf(uint64_t p) const {
    return PhysMem::FlatSlot(flat_meta_, p).meta;
  }
  // The inline test of the frame a walk reads at `level` (FastExpected).
  [[gnu::always_inline]] bool Expected(const FrameMeta& m, uint8_t level) const {
    return PhysMem::FastExpected(m, expect_, mask_, level, va_);
  }

  static Access MakeAccess(Purpose p, uint8_t level, Agent agent,
                           SpaceId space, uint64_t va) {
    Access a;
    a.agent = agent;
    a.purpose = p;
    a.level = level;
    a.space = space;
    a.va = VirtAddr(va);
    return a;
  }
  // Out of line, on scalars only, so that nothing of the walk has to live
  // in memory for them.
  [[gnu::noinline]] static bool ReadSlow(PhysMem& mem, PhysAddr pa,
                                         uint8_t level, Agent agent,
                                         SpaceId space, uint64_t va,
                                         uint64_t* out) {
    return mem.Read64(
        pa, MakeAccess(Purpose::kPageTableWalk, level, agent, space, va), out);
  }
  [[gnu::noinline]] static void CheckSlow(PhysMem& mem, PhysAddr pa,
                                          uint8_t level, Agent agent,
                                          SpaceId space, uint64_t va,
                                          const FrameMeta& m) {
    mem.CheckSlow(
        pa, MakeAccess(Purpose::kPageTableWalk, level, agent, space, va), m);
  }

  PhysMem* mem_;
  const uint8_t* flat_meta_;  // PhysMem::flat_meta_, or zero_meta_ with checking off
  const uint8_t* flat_;
  uint64_t size_words_;  // PhysMem::fast_limit_ in 8-byte words
  uint64_t va_;
  uint64_t expect_;
  uint64_t mask_;
  Agent agent_;
  SpaceId space_;
};

// The hot path of every aligned 64-bit read in the flat part: the packed
// shadow compare when the access is checked (one region lookup), the load.
inline bool PhysMem::Read64(PhysAddr pa, const Access& a, uint64_t* out) {
  const uint64_t p = pa.value();
  if ((p & 7) == 0 && p < fast_limit_) [[likely]] {
    if (Checked(a)) {
      // An untouched region's shadow reads as zeros (untracked).
      const FrameMeta& m = FlatSlot(flat_meta_, p).meta;
      // Untracked frames (and untouched regions) need nothing more.
      if ((FrameMetaHead(m) & kFrameMetaHeadUseMask) != 0) {
        const uint64_t expect = FrameMetaHeadOf(FrameUse::kPageTable, 0, 0, a.space);
        const uint64_t mask = FrameMetaHeadUseLevelMask(a.space != kNoSpace);
        // Levels outside 1..5 (and level 0: "any level") take the full
        // check.
        if (static_cast<uint8_t>(a.level - 1) >= 5 ||
            !FastExpected(m, expect, mask, a.level, a.va.value())) [[unlikely]] {
          CheckSlow(pa, a, m);
        }
      }
    }
    std::memcpy(out, flat_ + p, 8);
    return true;
  }
  return Read64Slow(pa, a, out);
}

}  // namespace svaemu::mem

#endif  // SVAEMU_MEM_PHYS_MEM_H_
