// PreparedWalker: the page-table walker set up once for one translation
// configuration, for the IOMMU models' miss paths.
//
// WalkX86() and WalkArm64() decode their configuration (paging mode, TCR
// bits, options) into a format descriptor on every call and check the VA
// against the root before walking. An IOMMU caches that configuration (a
// VT-d PASID-table entry, an SMMUv3 CD) and starts most walks from a
// paging-structure / walk cache, so it builds the walker when it fills the
// configuration cache, makes the pre-walk checks (canonical VA, TTBR half,
// EPDn, root address size) itself when it chooses the start, and walks from
// a WalkStart without re-deriving anything.
//
// A walk here is exactly the walk WalkX86() / WalkArm64() run from the same
// start (same reads, checks, A/D updates, restarts and result): the same
// loop (walk.h) over the same format. What it leaves out is only the
// pre-walk checks, so a caller that skips them walks a VA the architecture
// would have faulted first.
//
// Also here, for cache fills: the rights a run of table entries grants
// (what the walker reports to an observer), from the entries alone, so an
// observer can record entries and nothing else.
//
// Thread-safety: a PreparedWalker is immutable after construction; walks
// are thread-compatible with respect to the PhysMem they read.
#ifndef SVAEMU_ARCH_WALKER_H_
#define SVAEMU_ARCH_WALKER_H_

#include "svaemu/arch/walk.h"

namespace svaemu::arch {

template <typename Fmt>
class PreparedWalker {
 public:
  PreparedWalker() = default;
  explicit PreparedWalker(const Fmt& fmt) : fmt_(fmt) {}

  const Fmt& format() const { return fmt_; }

  // Walks from `start` (a table at level 1..5; any other level faults as
  // not present before a read). `agent` and `space` go on every access, as
  // WalkOptions::agent/space do (the checker's contract).
  template <WalkObserver Observer = NullObserver>
  [[gnu::always_inline]] WalkResult Walk(mem::PhysMem& mem,
                                         const WalkStart& start, VirtAddr va,
                                         AccessType acc, Agent agent,
                                         SpaceId space,
                                         Observer* obs = nullptr) const {
    WalkOptions opts;
    opts.agent = agent;
    opts.space = space;
    return internal::RunWalkWith(
        mem, [this]() -> const Fmt& { return fmt_; }, start, va, acc, opts,
        obs);
  }

  // Walk() for a miss path that keeps the translation in registers, from a
  // start given as scalars: the table, its level and the rights above it
  // as a PermsIndex() set (what a walk cache keeps). True with every walk
  // that translated in *fast (the common one, with nothing to update,
  // never builds a WalkResult: walk.h, RunWalkFastFrom), false with the
  // fault in *fault.
  template <WalkObserver Observer = NullObserver>
  [[gnu::always_inline]] bool WalkTranslated(mem::PhysMem& mem, uint64_t table, uint8_t level,
                                             uint32_t cumulative, VirtAddr va, AccessType acc,
                                             Agent agent, SpaceId space, Observer* obs,
                                             FastTranslation* fast, WalkResult* fault) const {
    if (internal::RunWalkFastFrom(
            mem, [this]() -> const Fmt& { return fmt_; }, table, level, cumulative, va, acc,
            agent, space, obs, fast, fault)) [[likely]] {
      return true;
    }
    if (!fault->ok()) return false;
    *fast = internal::FastOf(*fault);  // translated after A/D updates
    return true;
  }
  // WalkTranslated() when that walk is plain reads with nothing to fault,
  // report or update (walk.h, TryWalkFast): true with the same *fast and
  // the entry read at each level in entries[level - 1]. False otherwise,
  // having done nothing observable; the caller then calls
  // WalkTranslated().
  [[gnu::always_inline]] bool TryWalk(mem::PhysMem& mem, uint64_t table, uint8_t level,
                                      uint32_t cumulative, VirtAddr va, AccessType acc,
                                      SpaceId space, uint64_t* entries,
                                      FastTranslation* fast) const {
    const mem::WalkReader rd(mem, Agent{}, space, va);  // TryRead reports nothing
    return internal::TryWalkFast(rd, fmt_, table, level, cumulative, va.value(), acc, entries,
                                 fast);
  }
  // Whether a leaf is global (x86 G; arm64 nG = 0).
  bool Global(uint64_t leaf) const { return fmt_.Global(leaf); }

  // The rights left after `start` is narrowed by table entries whose AND
  // is `tables_and` and OR is `tables_or` (every table entry from the walk
  // start down to the one a cache line is filled for): what the walker's
  // observer reports as LevelRead::cumulative for the last of them.
  Perms Narrow(const Perms& start, uint64_t tables_and,
               uint64_t tables_or) const {
    return internal::PermsOfFast(NarrowIndex(internal::PermBitsFast(start),
                                             tables_and, tables_or));
  }
  // Narrow() on PermsIndex() sets.
  [[gnu::always_inline]] uint32_t NarrowIndex(uint32_t start, uint64_t tables_and,
                                              uint64_t tables_or) const {
    return start & fmt_.TablePerms(tables_and, tables_or);
  }

 private:
  static_assert(internal::PagingFormat<Fmt>);
  Fmt fmt_;
};

// A dense index 0..15 of a set of rights, and back (tables keyed by
// rights, e.g. what a cached translation allows).
[[gnu::always_inline]] inline uint32_t PermsIndex(const Perms& p) {
  return internal::PermBitsFast(p);
}
constexpr Perms PermsOfIndex(uint32_t i) { return internal::PermsOf(i); }
// The bits of a PermsIndex() set (FastTranslation::perms).
inline constexpr uint32_t kPermIndexWrite = internal::kPermWrite;
inline constexpr uint32_t kPermIndexUser = internal::kPermUser;
inline constexpr uint32_t kPermIndexExecUser = internal::kPermExecUser;
inline constexpr uint32_t kPermIndexExecPriv = internal::kPermExecPriv;
inline constexpr uint32_t kPermIndexAll = internal::kPermAll;

// X86Walker (x86_64.h) and Arm64Walker (arm64.h) are the two instances.

}  // namespace svaemu::arch

#endif  // SVAEMU_ARCH_WALKER_H_
