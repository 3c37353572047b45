// A set-associative cache of POD lines, the building block of every VT-d
// cache (context cache, PASID cache, IOTLB, paging-structure caches).
//
// Layout: one flat array of lines, `ways` consecutive lines per set, and one
// sequence word per set. A line is tag + owner + data + replacement stamp +
// owner-list links. `tag` is the lookup key with bit 0 set (0 = invalid);
// `owner` groups lines for invalidation (VT-d: DID and PASID), so that a
// PASID-based invalidation visits only that PASID's lines: each owner has an
// intrusive doubly linked list through the lines (indices, no allocation on
// link/unlink). The owner -> list head map is touched only on fill,
// eviction and invalidation, never on lookup.
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

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "svaemu/base/check.h"
#include "svaemu/sim/rng.h"
#include "svaemu/sim/stats.h"

namespace svaemu::hw::vtd {

enum class Replacement : uint8_t { kLru, kFifo, kRandom };

struct CacheGeometry {
  uint32_t entries = 64;  // total lines; a multiple of ways, sets a power of 2
  uint32_t ways = 4;
  Replacement replacement = Replacement::kLru;
};

// Counters "<prefix>.hits/misses/insertions/evictions/invalidations".
struct CacheCounters {
  sim::Counter* hits = nullptr;
  sim::Counter* misses = nullptr;
  sim::Counter* insertions = nullptr;
  sim::Counter* evictions = nullptr;
  sim::Counter* invalidations = nullptr;
  void Register(sim::Stats& stats, const std::string& prefix);
};

template <typename Data>
class SetAssocCache {
 public:
  static constexpr uint32_t kNil = ~0u;
  struct Line {
    uint64_t tag;
    uint64_t owner;
    uint32_t stamp;
    uint32_t prev;
    uint32_t next;
    Data data;
  };

  SetAssocCache() = default;
  SetAssocCache(const SetAssocCache&) = delete;
  SetAssocCache& operator=(const SetAssocCache&) = delete;

  // Geometry must have been validated (ValidGeometry).
  void Init(const CacheGeometry& g, sim::Stats& stats,
            const std::string& prefix, uint64_t seed) {
    SVAEMU_CHECK(ValidGeometry(g));
    ways_ = g.ways;
    sets_ = g.entries / g.ways;
    set_bits_ = 0;
    while ((1u << set_bits_) < sets_) ++set_bits_;
    repl_ = g.replacement;
    lines_.assign(g.entries, Line{});
    for (Line& l : lines_) {
      l.tag = 0;
      l.prev = l.next = kNil;
    }
    seq_.assign(sets_, 0);
    heads_.clear();
    rng_.Reseed(seed);
    counters_.Register(stats, prefix);
    valid_ = 0;
  }

  static bool ValidGeometry(const CacheGeometry& g) {
    if (g.ways == 0 || g.entries == 0 || g.entries % g.ways != 0) return false;
    const uint32_t sets = g.entries / g.ways;
    return (sets & (sets - 1)) == 0;
  }

  // The hot path: no counting, no allocation.
  Data* Probe(uint64_t tag, uint64_t owner) {
    Line* l = &lines_[SetOf(tag, owner) * ways_];
    for (uint32_t w = 0; w < ways_; ++w) {
      if (l[w].tag == tag && l[w].owner == owner) {
        if (repl_ == Replacement::kLru) l[w].stamp = ++clock_;
        return &l[w].data;
      }
    }
    return nullptr;
  }

  // Probe and count a hit or a miss.
  Data* Lookup(uint64_t tag, uint64_t owner) {
    Data* d = Probe(tag, owner);
    (d != nullptr ? counters_.hits : counters_.misses)->Inc();
    return d;
  }

  // Fills (or refreshes) the line for (tag, owner).
  Data* Insert(uint64_t tag, uint64_t owner, const Data& data) {
    SVAEMU_CHECK((tag & 1) != 0);
    const uint32_t set = SetOf(tag, owner);
    const uint32_t base = set * ways_;
    uint32_t victim = kNil;
    for (uint32_t w = 0; w < ways_; ++w) {
      Line& l = lines_[base + w];
      if (l.tag == tag && l.owner == owner) {
        l.data = data;
        return &l.data;
      }
      if (l.tag == 0 && victim == kNil) victim = base + w;
    }
    if (victim == kNil) {
      if (repl_ == Replacement::kRandom) {
        victim = base + static_cast<uint32_t>(rng_.Uniform(ways_));
      } else {
        victim = base;
        for (uint32_t w = 1; w < ways_; ++w) {
          if (lines_[base + w].stamp < lines_[victim].stamp) victim = base + w;
        }
      }
      Remove(victim);
      counters_.evictions->Inc();
    }
    ++seq_[set];
    Line& l = lines_[victim];
    l.tag = tag;
    l.owner = owner;
    l.stamp = ++clock_;
    l.data = data;
    Link(victim);
    ++seq_[set];
    ++valid_;
    counters_.insertions->Inc();
    return &l.data;
  }

  // Drops lines of `owner` for which pred(tag, data) is true. Returns the
  // number of lines visited (the modelled work); *dropped the number
  // removed.
  template <typename Pred>
  uint32_t InvalidateOwner(uint64_t owner, Pred pred, uint32_t* dropped) {
    uint32_t visited = 0, n = 0;
    auto it = heads_.find(owner);
    uint32_t i = it == heads_.end() ? kNil : it->second;
    while (i != kNil) {
      const uint32_t next = lines_[i].next;
      ++visited;
      if (pred(lines_[i].tag, lines_[i].data)) {
        Remove(i);
        ++n;
      }
      i = next;
    }
    counters_.invalidations->Inc(n);
    if (dropped != nullptr) *dropped += n;
    return visited;
  }

  // Drops every valid line for which pred(tag, owner, data) is true;
  // visits the whole array. Returns the number of lines removed.
  template <typename Pred>
  uint32_t InvalidateIf(Pred pred) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < lines_.size(); ++i) {
      if (lines_[i].tag != 0 && pred(lines_[i].tag, lines_[i].owner, lines_[i].data)) {
        Remove(i);
        ++n;
      }
    }
    counters_.invalidations->Inc(n);
    return n;
  }

  uint32_t InvalidateAll() {
    return InvalidateIf([](uint64_t, uint64_t, const Data&) { return true; });
  }

  // Number of valid lines (of one owner).
  uint32_t valid() const { return valid_; }
  uint32_t CountOwner(uint64_t owner) const {
    auto it = heads_.find(owner);
    uint32_t n = 0;
    for (uint32_t i = it == heads_.end() ? kNil : it->second; i != kNil;
         i = lines_[i].next) {
      ++n;
    }
    return n;
  }
  uint32_t capacity() const { return static_cast<uint32_t>(lines_.size()); }
  uint32_t ways() const { return ways_; }
  uint32_t sets() const { return sets_; }
  uint32_t seq(uint32_t set) const { return seq_[set]; }
  const CacheCounters& counters() const { return counters_; }

  uint32_t SetOf(uint64_t tag, uint64_t owner) const {
    if (set_bits_ == 0) return 0;
    const uint64_t h = (tag ^ (owner * 0x9E3779B97F4A7C15ull)) * 0xD6E8FEB86659FD93ull;
    return static_cast<uint32_t>(h >> (64 - set_bits_));
  }

 private:
  void Link(uint32_t i) {
    Line& l = lines_[i];
    auto [it, inserted] = heads_.try_emplace(l.owner, i);
    l.prev = kNil;
    if (inserted) {
      l.next = kNil;
    } else {
      l.next = it->second;
      lines_[it->second].prev = i;
      it->second = i;
    }
  }
  void Remove(uint32_t i) {
    Line& l = lines_[i];
    const uint32_t set = i / ways_;
    ++seq_[set];
    if (l.prev != kNil) {
      lines_[l.prev].next = l.next;
    } else {
      auto it = heads_.find(l.owner);
      SVAEMU_CHECK(it != heads_.end() && it->second == i);
      if (l.next == kNil) {
        heads_.erase(it);
      } else {
        it->second = l.next;
      }
    }
    if (l.next != kNil) lines_[l.next].prev = l.prev;
    l.tag = 0;
    l.prev = l.next = kNil;
    ++seq_[set];
    --valid_;
  }

  uint32_t ways_ = 1;
  uint32_t sets_ = 1;
  uint32_t set_bits_ = 0;
  Replacement repl_ = Replacement::kLru;
  uint32_t clock_ = 0;
  uint32_t valid_ = 0;
  std::vector<Line> lines_;
  std::vector<uint32_t> seq_;
  absl::flat_hash_map<uint64_t, uint32_t> heads_;
  sim::Rng rng_{1};
  CacheCounters counters_;
};

}  // namespace svaemu::hw::vtd

#endif  // SVAEMU_HW_VTD_CACHE_H_
