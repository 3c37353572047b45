// A set-associative cache of POD lines, the building block of every VT-d
// cache (context cache, PASID cache, IOTLB, paging-structure caches).
//
// Layout: one array of sets; a set is its metadata (sequence word, set
// number) followed by its `ways` lines, so a probe, the fill after it and
// the sequence bumps all work from one pointer (CacheSet), which a caller
// keeps from the probe for the fill. A line is tag + owner + data +
// replacement stamp + owner-list links; a line's index (for the owner
// lists) is set * ways + way. `tag` is the lookup key with bit 0 set
// (0 = invalid); `owner` groups lines for invalidation (VT-d: DID and
// PASID), so that a PASID-based invalidation visits only that PASID's
// lines: each owner has an intrusive doubly linked list through the lines
// (indices, no allocation on link/unlink). The owner -> list head map is
// touched only on fill, eviction and invalidation, never on lookup, and
// then only when the owner differs from the previous one (a memoised head;
// see HeadOf).
//
// Concurrency plan (not enabled yet): every writer bumps the set's sequence
// word to odd before and to even after changing a line, so a reader on
// another host thread can probe a set seqlock-style (read seq, probe, re-read
// seq, retry if it changed or is odd) without taking a lock; an invalidation
// that has completed has bumped every set it touched, which is the "no
// translation that starts afterwards uses a removed entry" promise. Walks in
// flight are fenced by an epoch counter that a wait descriptor would drain.
//
// Replacement: LRU (stamp updated on every hit), FIFO (stamp set on fill) or
// random (seeded, deterministic).
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_HW_VTD_CACHE_H_
#define SVAEMU_HW_VTD_CACHE_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "svaemu/base/check.h"
#include "svaemu/hw/set_array.h"
#include "svaemu/sim/cache_counts.h"
#include "svaemu/sim/rng.h"
#include "svaemu/sim/stats.h"

namespace svaemu::hw::vtd {

enum class Replacement : uint8_t { kLru, kFifo, kRandom };

struct CacheGeometry {
  uint32_t entries = 64;  // total lines; a multiple of ways, sets a power of 2
  uint32_t ways = 4;
  Replacement replacement = Replacement::kLru;
};

// A cache's counts (sim::CacheCounts), registered with unit "lines".
using CacheCounters = sim::CacheCounts;

// The owner's half of a set index (SetAssocCache::SetOf): computed once per
// owner by a caller that probes often for one owner (a PASID-cache line).
constexpr uint64_t CacheOwnerMix(uint64_t owner) { return owner * 0x9E3779B97F4A7C15ull; }

// A handle on one set of a SetAssocCache (SetAssocCache::At): what a probe
// found, for the fill after it.
using hw::CacheSet;

template <typename Data>
class SetAssocCache {
 public:
  static constexpr uint32_t kNil = ~0u;
  struct Line {
    uint64_t tag;
    uint64_t owner;
    uint64_t stamp;  // 64-bit: never wraps (32 bits did in ~30 s of hits);
                     // 0 exactly when the line is free
    uint32_t prev;
    uint32_t next;
    Data data;
  };

  SetAssocCache() = default;
  SetAssocCache(const SetAssocCache&) = delete;
  SetAssocCache& operator=(const SetAssocCache&) = delete;

  // Geometry must have been validated (ValidGeometry).
  // `track_owners`: keep the per-owner lists (an invalidation by owner
  // visits only that owner's lines). Without them, fills and evictions do
  // no list work and an invalidation by owner scans the array: the choice
  // for small caches (the paging-structure caches), where a scan costs
  // less than the list upkeep on every fill.
  void Init(const CacheGeometry& g, sim::Stats& stats,
            const std::string& prefix, uint64_t seed, bool track_owners = true) {
    SVAEMU_CHECK(ValidGeometry(g));
    track_owners_ = track_owners;
    ways_ = g.ways;
    sets_ = g.entries / g.ways;
    uint32_t set_bits = 0;
    ways_shift_ = (g.ways & (g.ways - 1)) == 0 ? std::countr_zero(g.ways) : -1;
    while ((1u << set_bits) < sets_) ++set_bits;
    set_shift_ = set_bits == 0 ? 0 : 64 - set_bits;
    set_mask_ = sets_ - 1;
    repl_ = g.replacement;
    sets_mem_.Init(
        sets_, ways_, [](uint32_t set) { return SetMeta{.seq = 0, .index = set}; },
        Line{.tag = 0, .owner = 0, .stamp = 0, .prev = kNil, .next = kNil, .data = {}});
    heads_.clear();
    memo_head_ = nullptr;
    memo_tag_ = 0;
    memo_line_ = nullptr;
    // Non-empty lists never outnumber the lines; the rest is slack for
    // heads of emptied lists before a prune.
    prune_limit_ = 2 * uint64_t{g.entries} + 64;
    rng_.Reseed(seed);
    counters_.Register(stats, prefix, "lines");
    valid_ = 0;
  }

  static bool ValidGeometry(const CacheGeometry& g) {
    if (g.ways == 0 || g.entries == 0 || g.entries % g.ways != 0) return false;
    const uint32_t sets = g.entries / g.ways;
    return (sets & (sets - 1)) == 0;
  }

  // The hot path: no counting, no allocation.
  Data* Probe(uint64_t tag, uint64_t owner) {
    Line* l = Find(tag, owner);
    if (l == nullptr) return nullptr;
    if (repl_ == Replacement::kLru) l->stamp = ++clock_;
    return &l->data;
  }

  // Probe() behind a one-line memo of the last line ProbeMemo() found: a
  // stream of requests for one tag (one PASID doing DMA) compares one tag
  // and refreshes the same stamp Probe() would. The memo is dropped when
  // its line is removed (invalidation, eviction, Init).
  [[gnu::always_inline]] Data* ProbeMemo(uint64_t tag, uint64_t owner) {
    if (tag == memo_tag_ && owner == memo_line_owner_) [[likely]] {
      if (repl_ == Replacement::kLru) memo_line_->stamp = ++clock_;
      return &memo_line_->data;
    }
    return ProbeAndMemo(tag, owner);
  }

  // Probe and count a hit or a miss.
  Data* Lookup(uint64_t tag, uint64_t owner) {
    Data* d = Probe(tag, owner);
    (d != nullptr ? counters_.hits : counters_.misses).Inc();
    return d;
  }

  // Fills (or refreshes) the line for (tag, owner): the line if present,
  // else the victim InsertAfterMiss() picks.
  Data* Insert(uint64_t tag, uint64_t owner, const Data& data) {
    SVAEMU_CHECK((tag & 1) != 0);
    const CacheSet set = At(SetOf(tag, owner));
    if (Line* l = FindInSet(set, tag, owner)) {
      l->data = data;
      return &l->data;
    }
    return InsertAfterMiss(set, tag, owner, data);
  }
  // Insert() for a (tag, owner) that a probe of `set` (ProbeInSet) just missed,
  // with no fill of this cache since: the line cannot be there, so only the
  // victim is chosen (first free way, else the LRU/FIFO one, else random)
  // and replaced in place (one sequence bump pair; it stays on its owner
  // list when the new line has the same owner).
  [[gnu::always_inline]] Data* InsertAfterMiss(CacheSet set, uint64_t tag, uint64_t owner,
                                               const Data& data) {
    SVAEMU_CHECK((tag & 1) != 0);
    const Line* l = Ways(set);
    uint32_t way;
    if (ways_ == 1) {
      way = 0;  // (random replacement of one way: Uniform(1) is 0)
    } else if (ways_ == 4) {
      way = VictimIn<4>(l);
    } else if (ways_ == 8) {
      way = VictimIn<8>(l);
    } else {
      way = VictimIn<0>(l);
    }
    return FillAt(set, way, tag, owner, data);
  }
  // Probe() that also returns the set, for a later InsertAfterMiss().
  [[gnu::always_inline]] Data* ProbeInSet(uint64_t tag, uint64_t owner, CacheSet* set) {
    *set = At(SetOf(tag, owner));
    return ProbeAt(*set, tag, owner);
  }
  // Probe() of `set`, which must be At(SetOf(tag, owner)).
  [[gnu::always_inline]] Data* ProbeAt(CacheSet set, uint64_t tag, uint64_t owner) {
    Line* l = FindInSet(set, tag, owner);
    if (l == nullptr) return nullptr;
    if (repl_ == Replacement::kLru) l->stamp = ++clock_;
    return &l->data;
  }
  // ProbeAt() counting a hit or a miss.
  [[gnu::always_inline]] Data* LookupAt(CacheSet set, uint64_t tag, uint64_t owner) {
    Data* d = ProbeAt(set, tag, owner);
    (d != nullptr ? counters_.hits : counters_.misses).Inc();
    return d;
  }

  // Drops lines of `owner` for which pred(tag, data) is true. Returns the
  // number of lines visited (the modelled work); *dropped the number
  // removed.
  template <typename Pred>
  uint32_t InvalidateOwner(uint64_t owner, Pred pred, uint32_t* dropped) {
    uint32_t visited = 0, n = 0;
    if (!track_owners_) {
      // The lines of `owner` are those visited (the modelled work is the
      // same as with lists; the host scans the small array).
      ForEachLine([&](CacheSet set, Line& l) {
        if (l.tag == 0 || l.owner != owner) return;
        ++visited;
        if (pred(l.tag, l.data)) {
          Remove(set, l);
          ++n;
        }
      });
      counters_.invalidations.Inc(n);
      if (dropped != nullptr) *dropped += n;
      return visited;
    }
    auto it = heads_.find(owner);
    uint32_t i = it == heads_.end() ? kNil : it->second;
    while (i != kNil) {
      Line& l = LineAt(i);
      const uint32_t next = l.next;
      ++visited;
      if (pred(l.tag, l.data)) {
        Remove(SetOfLine(i), l);
        ++n;
      }
      i = next;
    }
    counters_.invalidations.Inc(n);
    if (dropped != nullptr) *dropped += n;
    return visited;
  }

  // Drops every valid line for which pred(tag, owner, data) is true;
  // visits the whole array. Returns the number of lines removed.
  template <typename Pred>
  uint32_t InvalidateIf(Pred pred) {
    uint32_t n = 0;
    ForEachLine([&](CacheSet set, Line& l) {
      if (l.tag != 0 && pred(l.tag, l.owner, l.data)) {
        Remove(set, l);
        ++n;
      }
    });
    counters_.invalidations.Inc(n);
    return n;
  }

  uint32_t InvalidateAll() {
    return InvalidateIf([](uint64_t, uint64_t, const Data&) { return true; });
  }

  // Number of valid lines (of one owner).
  uint32_t valid() const { return valid_; }
  uint32_t CountOwner(uint64_t owner) const {
    uint32_t n = 0;
    if (!track_owners_) {
      ForEachLine([&](CacheSet, const Line& l) { n += l.tag != 0 && l.owner == owner; });
      return n;
    }
    auto it = heads_.find(owner);
    for (uint32_t i = it == heads_.end() ? kNil : it->second; i != kNil;
         i = LineAt(i).next) {
      ++n;
    }
    return n;
  }
  uint32_t capacity() const { return sets_ * ways_; }
  // Tests: the next stamp given is `clock` + 1.
  void SetClockForTest(uint64_t clock) {
    SVAEMU_CHECK(clock < (uint64_t{1} << (64 - kKeyWayBits - 1)));
    clock_ = clock;
  }
  uint32_t ways() const { return ways_; }
  uint32_t sets() const { return sets_; }
  uint32_t seq(uint32_t set) const { return MetaOf(At(set)).seq; }
  const CacheCounters& counters() const { return counters_; }
  CacheCounters& counters() { return counters_; }

  uint32_t SetOf(uint64_t tag, uint64_t owner) const {
    return SetOfMixed(tag, CacheOwnerMix(owner));
  }
  // SetOf() with the owner's half precomputed (CacheOwnerMix): the top
  // log2(sets) bits of a multiplicative hash (with one set, the mask is 0).
  [[gnu::always_inline]] uint32_t SetOfMixed(uint64_t tag, uint64_t owner_mix) const {
    const uint64_t h = (tag ^ owner_mix) * 0xD6E8FEB86659FD93ull;
    return static_cast<uint32_t>(h >> set_shift_) & set_mask_;
  }
  // The set numbered `set` (< sets()). (A handle reaches the lines: const
  // only in that the geometry does not change.)
  [[gnu::always_inline]] CacheSet At(uint32_t set) const { return sets_mem_.At(set); }
  // At(SetOfMixed(tag, owner_mix)).
  [[gnu::always_inline]] CacheSet SetFor(uint64_t tag, uint64_t owner_mix) const {
    return At(SetOfMixed(tag, owner_mix));
  }
  // The number of a set (At(number) == set).
  uint32_t IndexOf(CacheSet set) const { return MetaOf(set).index; }

 private:
  // A set's metadata, then its ways.
  struct SetMeta {
    uint32_t seq;    // the sequence word (see "Concurrency plan")
    uint32_t index;  // the set's number (line index = index * ways + way)
  };
  using Sets = SetArray<SetMeta, Line>;
  static SetMeta& MetaOf(CacheSet set) { return Sets::MetaOf(set); }
  [[gnu::always_inline]] static Line* Ways(CacheSet set) { return Sets::Ways(set); }
  // Line index (owner lists) <-> set and line.
  CacheSet SetOfLine(uint32_t i) const {
    return At(ways_shift_ >= 0 ? i >> ways_shift_ : i / ways_);
  }
  Line& LineAt(uint32_t i) const {
    return Ways(SetOfLine(i))[ways_shift_ >= 0 ? i & (ways_ - 1) : i % ways_];
  }
  uint32_t IndexOfLine(CacheSet set, const Line& l) const {
    return MetaOf(set).index * ways_ + static_cast<uint32_t>(&l - Ways(set));
  }
  // fn(set, line) for every line, in index order.
  template <typename Fn>
  void ForEachLine(Fn fn) const {
    for (uint32_t set = 0; set < sets_; ++set) {
      const CacheSet s = At(set);
      Line* l = Ways(s);
      for (uint32_t w = 0; w < ways_; ++w) fn(s, l[w]);
    }
  }

  // The line holding (tag, owner), or nullptr. The default geometries (4
  // and 8 ways) get a loop of constant length, which the compiler unrolls.
  [[gnu::always_inline]] Line* Find(uint64_t tag, uint64_t owner) {
    return FindInSet(At(SetOf(tag, owner)), tag, owner);
  }
  template <uint32_t kWays>  // 0: ways_
  [[gnu::always_inline]] Line* FindIn(Line* l, uint64_t tag, uint64_t owner) const {
    const uint32_t n = kWays != 0 ? kWays : ways_;
    for (uint32_t w = 0; w < n; ++w) {
      if (l[w].tag == tag && l[w].owner == owner) return &l[w];
    }
    return nullptr;
  }

  [[gnu::always_inline]] Line* FindInSet(CacheSet set, uint64_t tag, uint64_t owner) {
    Line* l = Ways(set);
    if (ways_ == 4) return FindIn<4>(l, tag, owner);  // the paging-structure caches
    if (ways_ == 8) return FindIn<8>(l, tag, owner);
    if (ways_ == 1) return FindIn<1>(l, tag, owner);
    return FindIn<0>(l, tag, owner);
  }

  // The way to fill in the set starting at `l`: the first free one, else
  // the first with the smallest stamp (LRU/FIFO), else (random) a draw.
  // A free line's stamp is 0 (Init, Remove) and every stamp given is at
  // least 1, so for LRU/FIFO "the first with the smallest stamp" is both
  // rules at once and the scan reads stamps only.
  template <uint32_t kWays>  // 0: ways_
  [[gnu::always_inline]] uint32_t VictimIn(const Line* l) {
    const uint32_t n = kWays != 0 ? kWays : ways_;
    if (repl_ == Replacement::kRandom) [[unlikely]] {
      for (uint32_t w = 0; w < n; ++w) {
        if (l[w].tag == 0) return w;
      }
      return static_cast<uint32_t>(rng_.Uniform(n));
    }
    if (n <= kKeyWays) {
      // Without a branch on the stamps: the smallest of stamp * 8 + way
      // is the first way with the smallest stamp. (The clock moves by one
      // a hit or fill: it stays far below 2^61.) A compare-and-branch per
      // way, whose outcome changes as the LRU order rotates, is one the
      // host mispredicts about once a fill; the selects made the PDE-cache
      // hit a little faster and steadier (docs/performance.md, nineteenth
      // session).
      uint64_t best = l[0].stamp << kKeyWayBits;
      for (uint32_t w = 1; w < n; ++w) best = std::min(best, (l[w].stamp << kKeyWayBits) | w);
      return static_cast<uint32_t>(best & (kKeyWays - 1));
    }
    uint32_t oldest = 0;
    uint64_t oldest_stamp = l[0].stamp;
    for (uint32_t w = 1; w < n; ++w) {
      if (l[w].stamp < oldest_stamp) {
        oldest_stamp = l[w].stamp;
        oldest = w;
      }
    }
    return oldest;
  }

  // Writes (tag, owner, data) into way `way` of `set`, evicting what it
  // held.
  [[gnu::always_inline]] Data* FillAt(CacheSet set, uint32_t way, uint64_t tag, uint64_t owner,
                                      const Data& data) {
    Line& v = Ways(set)[way];
    uint32_t* const seq = &MetaOf(set).seq;
    ++*seq;
    bool link = true;
    if (v.tag != 0) {  // eviction, in place
      if (&v == memo_line_) memo_tag_ = 0;
      // The line stays on its owner's list, or there are no lists: no
      // list work (tested here, not only inside Link/Unlink, so that an
      // eviction without lists has no call whether or not they inline).
      if (v.owner == owner || !track_owners_) {
        link = false;
      } else {
        Unlink(IndexOfLine(set, v));
      }
      counters_.evictions.Inc();
    } else {
      ++valid_;
    }
    v.tag = tag;
    v.owner = owner;
    v.stamp = ++clock_;
    v.data = data;
    if (link) Link(IndexOfLine(set, v));
    ++*seq;
    counters_.insertions.Inc();
    return &v.data;
  }

  [[gnu::noinline]] Data* ProbeAndMemo(uint64_t tag, uint64_t owner) {
    Line* l = Find(tag, owner);
    if (l == nullptr) return nullptr;
    if (repl_ == Replacement::kLru) l->stamp = ++clock_;
    memo_tag_ = tag;
    memo_line_owner_ = owner;
    memo_line_ = l;
    return &l->data;
  }

  // The list head of `owner`, created (kNil) if absent. A head stays in
  // the map when its list empties, so that a cache that keeps refilling
  // the same owner (or alternates a few) does no map insert/erase per fill;
  // heads of empty lists are pruned when the map grows past a bound
  // proportional to the capacity. The last head used is memoised: a run of
  // fills and evictions of one owner touches the map not at all. The memo
  // is a pointer into the map, reset whenever the map may move (a new key,
  // a prune, Init).
  uint32_t* HeadOf(uint64_t owner) {
    if (memo_head_ != nullptr && memo_owner_ == owner) [[likely]] {
      return memo_head_;
    }
    auto it = heads_.find(owner);
    if (it == heads_.end()) {
      if (heads_.size() >= prune_limit_) PruneHeads();
      it = heads_.try_emplace(owner, kNil).first;
    }
    memo_owner_ = owner;
    memo_head_ = &it->second;
    return memo_head_;
  }
  void PruneHeads() {
    absl::erase_if(heads_, [](const auto& kv) { return kv.second == kNil; });
    memo_head_ = nullptr;
  }
  void Link(uint32_t i) {
    if (!track_owners_) return;
    Line& l = LineAt(i);
    uint32_t* head = HeadOf(l.owner);
    l.prev = kNil;
    l.next = *head;
    if (*head != kNil) LineAt(*head).prev = i;
    *head = i;
  }
  // Takes line i off its owner's list (no-op without lists).
  void Unlink(uint32_t i) {
    if (!track_owners_) return;
    Line& l = LineAt(i);
    if (l.prev != kNil) {
      LineAt(l.prev).next = l.next;
    } else {
      uint32_t* head = HeadOf(l.owner);
      SVAEMU_CHECK(*head == i);
      *head = l.next;
    }
    if (l.next != kNil) LineAt(l.next).prev = l.prev;
    l.prev = l.next = kNil;
  }
  // Frees line `l` of `set`.
  void Remove(CacheSet set, Line& l) {
    uint32_t* const seq = &MetaOf(set).seq;
    ++*seq;
    if (&l == memo_line_) memo_tag_ = 0;
    Unlink(IndexOfLine(set, l));
    l.tag = 0;
    l.stamp = 0;  // free: the first choice of VictimIn
    ++*seq;
    --valid_;
  }

  bool track_owners_ = true;
  uint32_t ways_ = 1;
  uint32_t sets_ = 1;
  uint32_t set_shift_ = 0;  // 64 - log2(sets) (0 with one set)
  uint32_t set_mask_ = 0;   // sets_ - 1
  int ways_shift_ = 0;  // log2(ways), or -1 if ways is not a power of 2
  Replacement repl_ = Replacement::kLru;
  // VictimIn's key: a stamp and, in its low bits, a way (< kKeyWays).
  static constexpr unsigned kKeyWayBits = 3;
  static constexpr uint32_t kKeyWays = 1u << kKeyWayBits;
  uint64_t clock_ = 0;  // the last stamp given
  uint32_t valid_ = 0;
  Sets sets_mem_;
  absl::flat_hash_map<uint64_t, uint32_t> heads_;  // owner -> first line
  uint64_t prune_limit_ = 64;
  uint64_t memo_owner_ = 0;
  uint32_t* memo_head_ = nullptr;
  // ProbeMemo(): the last line found (tag 0: none; valid tags are odd).
  uint64_t memo_tag_ = 0;
  uint64_t memo_line_owner_ = 0;
  Line* memo_line_ = nullptr;
  sim::Rng rng_{1};
  CacheCounters counters_;
};

}  // namespace svaemu::hw::vtd

#endif  // SVAEMU_HW_VTD_CACHE_H_
