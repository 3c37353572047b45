// The page-table walker shared by every paging format.
//
// One walk loop (internal::RunWalk) serves x86-64 4/5-level paging and arm64
// VMSAv8-64 stage 1, in the manner of Spike's riscv/mmu.h walker and Linux's
// drivers/iommu/generic_pt: a small format descriptor (X86Format in
// x86_64.h, Arm64Format in arm64.h) decodes one entry at a time, narrows
// the cumulative permissions, applies the final access check and says which
// Accessed/Dirty (AF/DBM) update the leaf and the tables above it need. The
// loop does the memory traffic: it reads every entry through PhysMem with an
// Access naming the agent, kPageTableWalk, the level, the address space and
// the VA (so the frame-shadow checker sees every read), then performs A/D
// updates by compare-exchange with purpose kAdUpdate.
//
// Level numbering, for every format: level 1 is the last-level table (x86
// PT, arm64 L3), level 2 the next (x86 PD, arm64 L2), 3 (x86 PDPT, arm64
// L1), 4 (x86 PML4, arm64 L0), 5 (x86 PML5). An entry at level L maps
// 1 << (12 + 9 * (L - 1)) bytes; a table at level L translates
// 1 << (12 + 9 * L) bytes.
//
// A walk may start at any level: a paging-structure cache hands the walker a
// WalkStart (a table at level L plus the permissions accumulated above it).
//
// The walk path allocates nothing, logs nothing and makes no virtual call:
// the observer is a template parameter (NullObserver compiles to nothing).
//
// A/D rule (Intel SDM Vol. 3A 4.8; VT-d first-stage translation follows it;
// Arm ARM D8.5 for AF/DBM): updates are made only when the whole translation
// succeeded, top level first, by CompareExchange64. If an entry changed
// between the read and the compare-exchange, the walk restarts from its
// start (at most kMaxWalkAttempts walks; after that the last translation is
// returned with its updates incomplete).
//
// Thread-safety: the walk functions are thread-compatible with respect to
// the PhysMem they read.
#ifndef SVAEMU_ARCH_WALK_H_
#define SVAEMU_ARCH_WALK_H_

#include <concepts>
#include <cstdint>
#include <ostream>

#include "svaemu/base/agent.h"
#include "svaemu/base/strong_types.h"
#include "svaemu/mem/phys_mem.h"

namespace svaemu::arch {

// The access being translated. user=false: privileged (x86 supervisor,
// arm64 EL1).
struct AccessType {
  bool write = false;
  bool exec = false;
  bool user = true;
};

// Cumulative permissions: upper levels (x86 R/W, U/S, XD; arm64 APTable,
// UXNTable, PXNTable) and the leaf narrow them.
struct Perms {
  bool write = true;
  bool user = true;       // reachable by an unprivileged access
  bool exec_user = true;  // executable by an unprivileged fetch
  bool exec_priv = true;  // executable by a privileged fetch
  friend bool operator==(const Perms&, const Perms&) = default;
};

enum class FaultKind : uint8_t {
  kNone,
  kNonCanonical,   // x86 non-canonical VA; arm64 VA between TTBR0 and TTBR1
  kNotPresent,     // x86 P=0; arm64 translation fault (invalid descriptor,
                   // block where none is allowed, 0b01 at L3)
  kReservedBit,    // x86 reserved bit set (PFEC.RSVD)
  kAccessFlag,     // arm64 AF=0 without hardware AF update
  kAddressSize,    // arm64 output address beyond the OA size
  kPermission,     // see WalkResult::perm
  kBusError,       // an entry read (or A/D update) outside physical memory
  kRootDisabled,   // arm64 EPD0/EPD1 set for the VA's half
};

// Which check failed, with FaultKind::kPermission.
enum class PermFault : uint8_t { kNone, kWrite, kUser, kExec };

const char* FaultKindName(FaultKind k);
const char* PermFaultName(PermFault p);
std::ostream& operator<<(std::ostream& os, FaultKind k);
std::ostream& operator<<(std::ostream& os, PermFault p);

// One entry read by a walk, as shown to the observer.
struct LevelRead {
  uint8_t level = 0;
  PhysAddr table;     // the table the entry was read from
  PhysAddr entry_pa;  // the entry's address
  uint64_t entry = 0;
  bool leaf = false;  // the entry maps a page (as decoded; it may still fault)
  Perms cumulative;   // after this level
};

// Where a walk starts: a table at `level`, with the permissions that the
// levels above it (already walked, e.g. by a paging-structure cache fill)
// accumulated.
struct WalkStart {
  PhysAddr table;
  uint8_t level = 0;
  Perms cumulative;
};

struct Translation {
  PhysAddr pa;               // the translated address (page base | offset)
  uint8_t page_shift = 0;    // 12, 21 or 30
  uint8_t leaf_level = 0;    // 1, 2 or 3
  Perms perms;               // cumulative, including the leaf (and, arm64,
                             // after a hardware dirty-state update)
  bool global = false;       // x86 G; arm64 !nG
  uint64_t leaf_entry = 0;   // the leaf as it is in memory after the walk
  PhysAddr leaf_entry_pa;
};

struct WalkResult {
  FaultKind fault = FaultKind::kNone;
  PermFault perm = PermFault::kNone;
  // Level of the entry that faulted; for faults raised before any read
  // (non-canonical VA, disabled root), the level the walk would start at.
  uint8_t level = 0;
  uint64_t entry = 0;  // the faulting entry (all ones on a bus error)
  Translation t;       // valid when ok()
  uint32_t reads = 0;       // entry reads, over all attempts
  uint32_t ad_updates = 0;  // compare-exchanges issued, over all attempts
  bool ok() const { return fault == FaultKind::kNone; }
};

struct WalkOptions {
  Agent agent;
  SpaceId space = kNoSpace;
  bool set_accessed = true;   // x86 only: set A in every entry used
  bool set_dirty = true;      // x86 only: set D in the leaf on a write
  bool write_protect = true;  // x86 CR0.WP / VT-d WPE
  bool nxe = true;            // x86 EFER.NXE (false: XD is a reserved bit)
  unsigned max_phys_bits = 52;  // x86 MAXPHYADDR; arm64 OA size is
                                // min(48, max_phys_bits)
};

// Attributes of a mapping made by software (PageTableBuilder, the format
// encoders). Each format header says how they are encoded.
struct MapAttrs {
  bool write = true;
  bool user = true;
  bool exec = true;
  bool global = false;
  bool accessed = true;
  bool dirty = false;
};

// An observer sees every entry the walk reads, in order.
template <typename T>
concept WalkObserver = requires(T& o, const LevelRead& r) { o.OnRead(r); };

struct NullObserver {
  void OnRead(const LevelRead&) {}
};

// Bytes mapped by one entry at `level` / translated by a table at `level`.
constexpr uint64_t EntryCoverage(uint8_t level) {
  return 1ull << (12 + 9 * (level - 1));
}
constexpr uint64_t TableCoverage(uint8_t level) {
  const unsigned shift = 12 + 9 * level;
  return shift >= 64 ? 0 : (1ull << shift);  // 0: the whole 64-bit space
}
// Index of `va` in a table at `level`: VA bits [12+9L-1 : 12+9(L-1)].
constexpr unsigned TableIndex(VirtAddr va, uint8_t level) {
  return static_cast<unsigned>((va.value() >> (3 + 9 * level)) & 511);
}

inline constexpr int kMaxWalkAttempts = 8;

namespace internal {

enum class StepKind : uint8_t { kTable, kLeaf, kFault };

// What a format says about one entry.
struct Step {
  StepKind kind = StepKind::kFault;
  FaultKind fault = FaultKind::kNone;
  PhysAddr out;  // next table, or the leaf's page base
};

// Left uninitialised on purpose: the walk fills what it uses, and zeroing
// the whole path costs more than a level's read.
struct PathEntry {
  uint64_t pa;
  uint64_t value;
  uint8_t level;
};

// Outcome of a descent without access checks or A/D updates.
struct Descent {
  FaultKind fault = FaultKind::kNone;
  uint8_t level = 0;       // leaf level, or the faulting level
  uint64_t entry = 0;      // leaf, or faulting entry
  PhysAddr entry_pa;
  PhysAddr out;            // leaf page base
  Perms above;             // cumulative before the leaf
  Perms perms;             // cumulative including the leaf
  unsigned depth = 0;      // entries in the path
};

// Format descriptor requirements (see X86Format, Arm64Format):
//   Step Decode(uint64_t entry, uint8_t level, Perms* cum) const;
//   FaultKind Check(uint64_t leaf, uint8_t level, const Perms& above,
//                   Perms* perms, AccessType, PermFault*) const;
//   uint64_t Updated(uint64_t entry, bool leaf, AccessType) const;
//   bool Global(uint64_t leaf) const;
template <typename F>
concept PagingFormat = requires(const F& f, uint64_t e, uint8_t l, Perms* p,
                                const Perms& cp, AccessType a, PermFault* pf) {
  { f.Decode(e, l, p) } -> std::same_as<Step>;
  { f.Check(e, l, cp, p, a, pf) } -> std::same_as<FaultKind>;
  { f.Updated(e, true, a) } -> std::same_as<uint64_t>;
  { f.Global(e) } -> std::same_as<bool>;
};

// Reads entries from `start` down to a leaf or a fault. `a` carries agent,
// purpose, space and va; its level is set per read.
template <PagingFormat Fmt, WalkObserver Observer>
inline Descent Descend(mem::PhysMem& mem, const Fmt& fmt,
                       const WalkStart& start, mem::Access a,
                       Observer* obs, PathEntry* path, uint32_t* reads) {
  Descent d;
  Perms cum = start.cumulative;
  PhysAddr table = start.table;
  for (uint8_t level = start.level;; --level) {
    const PhysAddr entry_pa = table + 8ull * TableIndex(a.va, level);
    a.level = level;
    uint64_t e;
    ++*reads;
    const bool read_ok = mem.Read64(entry_pa, a, &e);
    const Perms above = cum;
    Step s;
    if (read_ok) [[likely]] {
      s = fmt.Decode(e, level, &cum);
    } else {
      s.fault = FaultKind::kBusError;
    }
    if constexpr (!std::same_as<Observer, NullObserver>) {
      if (obs != nullptr) {
        obs->OnRead(LevelRead{.level = level, .table = table,
                              .entry_pa = entry_pa, .entry = e,
                              .leaf = s.kind == StepKind::kLeaf,
                              .cumulative = cum});
      }
    }
    // Field by field: a temporary PathEntry copied as one 16-byte move
    // stalls on store forwarding.
    path[d.depth].pa = entry_pa.value();
    path[d.depth].value = e;
    path[d.depth].level = level;
    ++d.depth;
    d.level = level;
    d.entry = e;
    d.entry_pa = entry_pa;
    if (s.kind == StepKind::kLeaf) {
      d.out = s.out;
      d.above = above;
      d.perms = cum;
      return d;
    }
    if (s.kind == StepKind::kFault || level <= 1) [[unlikely]] {
      // A format never returns kTable at level 1; treat it as not present
      // rather than walking off the end of the path.
      d.fault = s.kind == StepKind::kFault ? s.fault : FaultKind::kNotPresent;
      return d;
    }
    table = s.out;
  }
}

// The walk: descent, access check, A/D updates, bounded restart.
template <PagingFormat Fmt, WalkObserver Observer>
inline WalkResult RunWalk(mem::PhysMem& mem, const Fmt& fmt,
                          const WalkStart& start, VirtAddr va, AccessType acc,
                          const WalkOptions& opts, Observer* obs) {
  WalkResult r;
  if (start.level < 1 || start.level > 5) [[unlikely]] {
    r.fault = FaultKind::kNotPresent;
    r.level = start.level;
    return r;
  }
  mem::Access a;
  a.agent = opts.agent;
  a.purpose = Purpose::kPageTableWalk;
  a.space = opts.space;
  a.va = va;
  PathEntry path[5];
  for (int attempt = 1;; ++attempt) {
    const Descent d = Descend(mem, fmt, start, a, obs, path, &r.reads);
    r.level = d.level;
    r.entry = d.entry;
    if (d.fault != FaultKind::kNone) {
      r.fault = d.fault;
      return r;
    }
    Perms perms = d.perms;
    PermFault pf = PermFault::kNone;
    const FaultKind f = fmt.Check(d.entry, d.level, d.above, &perms, acc, &pf);
    if (f != FaultKind::kNone) {
      r.fault = f;
      r.perm = pf;
      return r;
    }
    const unsigned shift = 12 + 9 * (d.level - 1);
    r.t.pa = d.out + va.OffsetIn(1ull << shift);
    r.t.page_shift = static_cast<uint8_t>(shift);
    r.t.leaf_level = d.level;
    r.t.perms = perms;
    r.t.global = fmt.Global(d.entry);
    r.t.leaf_entry = d.entry;
    r.t.leaf_entry_pa = d.entry_pa;

    bool retry = false;
    mem::Access u = a;
    u.purpose = Purpose::kAdUpdate;
    for (unsigned i = 0; i < d.depth; ++i) {
      const bool leaf = i + 1 == d.depth;
      const uint64_t want = fmt.Updated(path[i].value, leaf, acc);
      if (want == path[i].value) continue;
      u.level = path[i].level;
      uint64_t expected = path[i].value;
      ++r.ad_updates;
      const mem::CasResult cas =
          mem.CompareExchange64(PhysAddr(path[i].pa), &expected, want, u);
      if (cas == mem::CasResult::kSwapped) {
        if (leaf) r.t.leaf_entry = want;
        continue;
      }
      if (cas == mem::CasResult::kAbort) [[unlikely]] {
        r.fault = FaultKind::kBusError;
        r.level = path[i].level;
        r.entry = path[i].value;
        return r;
      }
      retry = true;  // kMismatch: the entry changed under the walk
      break;
    }
    if (!retry || attempt >= kMaxWalkAttempts) return r;
  }
}

}  // namespace internal
}  // namespace svaemu::arch

#endif  // SVAEMU_ARCH_WALK_H_
