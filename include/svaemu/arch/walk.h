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
// Arm ARM D8.5 for AF/DBM): the leaf's A and D (arm64: AF, dirty state) are
// set only when the whole translation succeeded. A table entry that a walk
// used to reach the next level gets A (x86) even when the walk then faults
// (not present, reserved bit, or the access rights at the end): "whenever
// the processor uses a paging-structure entry as part of linear-address
// translation, it sets the accessed flag in that entry" — the leaf of a
// faulting access is not set. Updates go top level first, by
// CompareExchange64. If an entry of a successful walk changed between the
// read and the compare-exchange, the walk restarts from its start (at most
// kMaxWalkAttempts walks; after that the walk fails with kUpdateFailed at the
// entry that kept changing, as for an update that could not be made, so no
// access proceeds without its A/D update); on a faulting walk an entry that
// changed is left as it is.
//
// Thread-safety: the walk functions are thread-compatible with respect to
// the PhysMem they read.
#ifndef SVAEMU_ARCH_WALK_H_
#define SVAEMU_ARCH_WALK_H_

#include <bit>
#include <concepts>
#include <cstring>
#include <cstdint>
#include <ostream>
#include <type_traits>

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
  kNonCanonical,  // x86 non-canonical VA; arm64 VA between TTBR0 and TTBR1
  kNotPresent,    // x86 P=0; arm64 translation fault (invalid descriptor,
                  // block where none is allowed, 0b01 at L3)
  kReservedBit,   // x86 reserved bit set (PFEC.RSVD)
  kAccessFlag,    // arm64 AF=0 without hardware AF update
  kAddressSize,   // arm64 output address beyond the OA size
  kPermission,    // see WalkResult::perm
  kBusError,      // an entry read outside physical memory
  kUpdateFailed,  // an A/D (arm64: AF/dirty) update that could not be
                  // made: its write aborted, or it kept losing races
  kRootDisabled,  // arm64 EPD0/EPD1 set for the VA's half
};

// Which check failed, with FaultKind::kPermission.
// kPan: an arm64 privileged data access to a location EL0 may access,
// with PAN set.
enum class PermFault : uint8_t { kNone, kWrite, kUser, kExec, kPan };

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

// A translated walk as scalars (PreparedWalker::WalkTranslated),
// which a miss path can keep in registers. Rights are a PermsIndex() set
// (walker.h).
struct FastTranslation {
  uint64_t page = 0;       // the leaf's page base
  uint64_t leaf = 0;       // the leaf entry, as in memory after the walk
  uint64_t leaf_pa = 0;    // its address
  uint32_t perms = 0;      // cumulative rights, including the leaf
  uint8_t level = 0;       // leaf level (1, 2, 3)
  uint8_t reads = 0;       // entries read, over all attempts
  uint8_t ad_updates = 0;  // compare-exchanges issued, over all attempts
  constexpr uint8_t page_shift() const { return static_cast<uint8_t>(3 + 9 * level); }
  // The address `va` translates to.
  constexpr uint64_t Pa(uint64_t va) const {
    return page + (va & ((1ull << page_shift()) - 1));
  }
};

struct WalkOptions {
  Agent agent;
  SpaceId space = kNoSpace;
  bool set_accessed = true;   // x86 only: set A in every entry used
  bool set_dirty = true;      // x86 only: set D in the leaf on a write
  bool write_protect = true;  // x86 CR0.WP / VT-d WPE
  bool nxe = true;            // x86 EFER.NXE (false: XD is a reserved bit)
  bool pages_1g = true;       // x86 1-GByte pages (CPUID Page1GB, VT-d
                              // CAP.FL1GP); false: PS in a PDPE is reserved
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
// The level whose leaves map `page_size` bytes (4 KiB -> 1, 2 MiB -> 2,
// 1 GiB -> 3), or 0 for a size no leaf maps.
constexpr uint8_t LeafLevelOf(uint64_t page_size) {
  for (uint8_t level = 1; level <= 3; ++level) {
    if (EntryCoverage(level) == page_size) return level;
  }
  return 0;
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

// Inside the walk loop, Perms is a bit set (one AND per level). The order
// puts arm64's PXNTable/UXNTable/APTable[0]/APTable[1] (bits 59..62) and
// PXN/UXN (53, 54) on these bits directly.
inline constexpr uint32_t kPermExecPriv = 1u << 0;
inline constexpr uint32_t kPermExecUser = 1u << 1;
inline constexpr uint32_t kPermUser = 1u << 2;
inline constexpr uint32_t kPermWrite = 1u << 3;
inline constexpr uint32_t kPermAll = 15;

constexpr uint32_t PermBits(const Perms& p) {
  return (p.write ? kPermWrite : 0) | (p.user ? kPermUser : 0) |
         (p.exec_user ? kPermExecUser : 0) | (p.exec_priv ? kPermExecPriv : 0);
}
constexpr Perms PermsOf(uint32_t b) {
  return Perms{.write = (b & kPermWrite) != 0,
               .user = (b & kPermUser) != 0,
               .exec_user = (b & kPermExecUser) != 0,
               .exec_priv = (b & kPermExecPriv) != 0};
}

// The same conversions as whole-word operations, for the walk's entry and
// exit: Perms is four bools, i.e. four bytes that are each 0 or 1.
static_assert(sizeof(Perms) == 4 && sizeof(bool) == 1);
[[gnu::always_inline]] inline uint32_t PermBitsFast(const Perms& p) {
  if constexpr (std::endian::native == std::endian::little) {
    uint32_t w;
    std::memcpy(&w, &p, 4);
    // Bytes write, user, exec_user, exec_priv (bits 0, 8, 16, 24) move to
    // bits 27, 26, 25, 24; no two partial products meet or carry there.
    return static_cast<uint32_t>(
               (uint64_t{w} * ((1ull << 27) | (1ull << 18) | (1ull << 9) | 1)) >>
               24) &
           kPermAll;
  } else {
    return PermBits(p);
  }
}
inline constexpr Perms kPermsOf[16] = {
    PermsOf(0), PermsOf(1), PermsOf(2),  PermsOf(3),  PermsOf(4),  PermsOf(5),
    PermsOf(6), PermsOf(7), PermsOf(8),  PermsOf(9),  PermsOf(10), PermsOf(11),
    PermsOf(12), PermsOf(13), PermsOf(14), PermsOf(15)};
[[gnu::always_inline]] inline Perms PermsOfFast(uint32_t b) {
  Perms p;
  std::memcpy(&p, &kPermsOf[b & kPermAll], 4);
  return p;
}

// A format's decode of one entry, on permission bits (DecodeBits).
struct BitStep {
  StepKind kind = StepKind::kFault;
  FaultKind fault = FaultKind::kNone;
  uint64_t out = 0;  // next table, or the leaf's page base
};

// Format descriptor requirements (see X86Format, Arm64Format). The Perms
// forms are the reference; the walk loop uses the bit forms, which must
// agree with them:
//   Step Decode(uint64_t entry, uint8_t level, Perms* cum) const;
//   FaultKind Check(uint64_t leaf, uint8_t level, const Perms& above,
//                   Perms* perms, AccessType, PermFault*) const;
//   uint64_t Updated(uint64_t entry, bool leaf, AccessType) const;
//   bool Global(uint64_t leaf) const;
//   // Decode() on permission bits.
//   BitStep DecodeBits(uint64_t entry, uint8_t level, uint32_t* cum) const;
//   // True only for an entry that DecodeBits() decodes as a table (level
//   // > 1), narrowing the permissions by TablePerms(entry, entry), or as
//   // a page (level 1), narrowing them as LeafPerms() does, in both cases
//   // at entry & TableAddressMask(). May be conservative (false sends the
//   // entry through DecodeBits()).
//   bool FastEntry(uint64_t entry, uint8_t level) const;
//   uint64_t TableAddressMask() const;
//   // The narrowing by a run of table entries whose AND is `tables_and`
//   // and OR is `tables_or`: the AND of what DecodeBits() applies for each.
//   uint32_t TablePerms(uint64_t tables_and, uint64_t tables_or) const;
//   // The rights left of `start` by a run of table entries (AND
//   // `tables_and`, OR `tables_or`) and then a page at level 1 that
//   // FastEntry() accepts: with above = start & TablePerms(tables_and,
//   // tables_or), what DecodeBits(page, 1, &above) leaves in `above`.
//   uint32_t LeafPerms(uint32_t start, uint64_t tables_and,
//                      uint64_t tables_or, uint64_t page) const;
//   uint32_t Required(AccessType) const;  // bits a fault-free access needs
//   FaultKind CheckBits(uint64_t leaf, uint8_t level, uint32_t above,
//                       uint32_t* perms, AccessType, uint32_t required,
//                       PermFault*) const;
//   // True when Updated() changes some entry of a successful walk whose
//   // table entries AND to `tables_and`, with leaf `leaf`.
//   bool NeedsUpdate(uint64_t tables_and, uint64_t leaf, AccessType) const;
//   // A leaf the walk may take as read (TryWalkFast): true only if
//   // CheckBits() passes leaving `perms` as they are and NeedsUpdate() is
//   // false. May be conservative (false sends the walk the full way).
//   bool PlainLeaf(uint64_t tables_and, uint64_t leaf, uint32_t perms,
//                  AccessType) const;
template <typename F>
concept PagingFormat = requires(const F& f, uint64_t e, uint8_t l, Perms* p,
                                const Perms& cp, AccessType a, PermFault* pf,
                                uint32_t* pb, uint32_t b) {
  { f.Decode(e, l, p) } -> std::same_as<Step>;
  { f.Check(e, l, cp, p, a, pf) } -> std::same_as<FaultKind>;
  { f.Updated(e, true, a) } -> std::same_as<uint64_t>;
  { f.Global(e) } -> std::same_as<bool>;
  { f.DecodeBits(e, l, pb) } -> std::same_as<BitStep>;
  { f.FastEntry(e, l) } -> std::same_as<bool>;
  { f.TableAddressMask() } -> std::same_as<uint64_t>;
  { f.TablePerms(e, e) } -> std::same_as<uint32_t>;
  { f.LeafPerms(b, e, e, e) } -> std::same_as<uint32_t>;
  { f.Required(a) } -> std::same_as<uint32_t>;
  { f.CheckBits(e, l, b, pb, a, b, pf) } -> std::same_as<FaultKind>;
  { f.NeedsUpdate(e, e, a) } -> std::same_as<bool>;
  { f.PlainLeaf(e, e, b, a) } -> std::same_as<bool>;
};

// Reads for Descend(): Read64 with the caller's Access, level set per read.
class AccessReader {
 public:
  AccessReader(mem::PhysMem& mem, const mem::Access& a) : mem_(mem), a_(a) {}
  bool Read(PhysAddr pa, uint8_t level, uint64_t* out) {
    a_.level = level;
    return mem_.Read64(pa, a_, out);
  }

 private:
  mem::PhysMem& mem_;
  mem::Access a_;
};

// Outcome of DescendBits.
struct BitDescent {
  FaultKind fault;
  uint8_t level;        // leaf level, or the faulting level
  uint64_t entry;       // leaf, or faulting entry
  uint64_t entry_pa;
  uint64_t out;         // leaf page base
  uint32_t above;       // cumulative before the leaf
  uint32_t perms;       // cumulative including the leaf
  uint64_t tables_and;  // AND of the table entries above the leaf
  unsigned depth;       // entries read
};

// The state a descent carries from level to level.
struct DescentState {
  uint64_t table;
  uint64_t tables_and;  // AND and OR of the table entries read so far
  uint64_t tables_or;
  uint64_t entry;       // the last entry read, and its address
  uint64_t entry_pa;
};

enum class LevelOutcome : uint8_t {
  kNext,      // a table entry: state.table is the next table
  kFastLeaf,  // a page that FastEntry() accepted at level 1
  kOther,     // anything else (read error, leaf, fault): the general tail
};

// One level of the walk, with the level a constant: the entry's address,
// read and checks, and the fast decode. path_pa/path_val are indexed by
// level - 1.
template <unsigned kLevel, typename Fmt, typename Reader, typename Observer>
[[gnu::always_inline]] inline LevelOutcome WalkLevel(
    Reader& rd, const Fmt& fmt, uint64_t va, uint32_t start_cum,
    Observer* obs, DescentState* st, uint64_t* path_pa, uint64_t* path_val,
    bool* read_ok) {
  const uint64_t entry_pa = st->table + ((va >> (9 * kLevel)) & 0xff8);
  uint64_t e;
  *read_ok = rd.Read(PhysAddr(entry_pa), static_cast<uint8_t>(kLevel), &e);
  path_pa[kLevel - 1] = entry_pa;
  path_val[kLevel - 1] = e;
  st->entry = e;
  st->entry_pa = entry_pa;
  if (!*read_ok || !fmt.FastEntry(e, static_cast<uint8_t>(kLevel)))
      [[unlikely]] {
    return LevelOutcome::kOther;
  }
  if constexpr (kLevel == 1) {
    // A page: the tail folds it in (it also needs the rights above it).
    if constexpr (!std::same_as<Observer, NullObserver>) {
      if (obs != nullptr) {
        obs->OnRead(LevelRead{
            .level = 1, .table = PhysAddr(st->table),
            .entry_pa = PhysAddr(entry_pa), .entry = e, .leaf = true,
            .cumulative = PermsOf(fmt.LeafPerms(start_cum, st->tables_and,
                                                st->tables_or, e))});
      }
    }
    return LevelOutcome::kFastLeaf;
  } else {
    st->tables_and &= e;
    st->tables_or |= e;
    if constexpr (!std::same_as<Observer, NullObserver>) {
      if (obs != nullptr) {
        obs->OnRead(LevelRead{
            .level = static_cast<uint8_t>(kLevel),
            .table = PhysAddr(st->table), .entry_pa = PhysAddr(entry_pa),
            .entry = e, .leaf = false,
            .cumulative = PermsOf(start_cum & fmt.TablePerms(st->tables_and,
                                                             st->tables_or))});
      }
    }
    st->table = e & fmt.TableAddressMask();
    return LevelOutcome::kNext;
  }
}

// The walk loop: reads entries from `table` at `start_level` down to a
// leaf or a fault, recording each entry's address and value in
// path_pa/path_val (indexed by level - 1). Everything is inlined into the
// caller, one copy of the level code per level (constant shifts, offsets
// and expected shadow). A table entry costs its read, one masked compare,
// an AND and an OR: the permissions of the tables are folded once, at the
// leaf (TablePerms).
template <typename Fmt, typename Reader, WalkObserver Observer>
[[gnu::always_inline]] inline BitDescent DescendBits(
    Reader& rd, const Fmt& fmt, uint64_t table, uint8_t start_level,
    uint32_t start_cum, VirtAddr va, Observer* obs, uint64_t* path_pa,
    uint64_t* path_val) {
  DescentState st{.table = table, .tables_and = ~0ull, .tables_or = 0,
                  .entry = 0, .entry_pa = 0};
  const uint64_t v = va.value();
  unsigned level = start_level;
  bool read_ok = true;
  LevelOutcome o;
  for (;;) {
    switch (level) {
      case 5:
        o = WalkLevel<5>(rd, fmt, v, start_cum, obs, &st, path_pa, path_val,
                         &read_ok);
        if (o != LevelOutcome::kNext) break;
        level = 4;
        [[fallthrough]];
      case 4:
        o = WalkLevel<4>(rd, fmt, v, start_cum, obs, &st, path_pa, path_val,
                         &read_ok);
        if (o != LevelOutcome::kNext) break;
        level = 3;
        [[fallthrough]];
      case 3:
        o = WalkLevel<3>(rd, fmt, v, start_cum, obs, &st, path_pa, path_val,
                         &read_ok);
        if (o != LevelOutcome::kNext) break;
        level = 2;
        [[fallthrough]];
      case 2:
        o = WalkLevel<2>(rd, fmt, v, start_cum, obs, &st, path_pa, path_val,
                         &read_ok);
        if (o != LevelOutcome::kNext) break;
        level = 1;
        [[fallthrough]];
      default:  // 1 (callers pass 1..5)
        o = WalkLevel<1>(rd, fmt, v, start_cum, obs, &st, path_pa, path_val,
                         &read_ok);
        level = 1;
        break;
    }
    const uint64_t e = st.entry;
    BitDescent d;
    d.level = static_cast<uint8_t>(level);
    d.entry = e;
    d.entry_pa = st.entry_pa;
    d.depth = start_level - level + 1;
    if (o == LevelOutcome::kFastLeaf) [[likely]] {
      d.fault = FaultKind::kNone;
      d.out = e & fmt.TableAddressMask();
      d.tables_and = st.tables_and;
      d.above = start_cum & fmt.TablePerms(st.tables_and, st.tables_or);
      d.perms = fmt.LeafPerms(start_cum, st.tables_and, st.tables_or, e);
      return d;
    }
    const uint32_t above = start_cum & fmt.TablePerms(st.tables_and, st.tables_or);
    uint32_t cum = above;
    BitStep s;
    if (read_ok) [[likely]] {
      s = fmt.DecodeBits(e, static_cast<uint8_t>(level), &cum);
    } else {
      s.fault = FaultKind::kBusError;
    }
    if constexpr (!std::same_as<Observer, NullObserver>) {
      if (obs != nullptr) {
        obs->OnRead(LevelRead{.level = static_cast<uint8_t>(level),
                              .table = PhysAddr(st.table),
                              .entry_pa = PhysAddr(d.entry_pa), .entry = e,
                              .leaf = s.kind == StepKind::kLeaf,
                              .cumulative = PermsOf(cum)});
      }
    }
    if (s.kind == StepKind::kTable && level > 1) {  // FastEntry was cautious
      st.tables_and &= e;
      st.tables_or |= e;
      st.table = s.out;
      --level;
      continue;
    }
    d.tables_and = st.tables_and;
    if (s.kind == StepKind::kLeaf) [[likely]] {
      d.fault = FaultKind::kNone;
      d.out = s.out;
      d.above = above;
      d.perms = cum;
      return d;
    }
    // A format never returns kTable at level 1; treat it as not present
    // rather than walking off the end of the path.
    d.fault = s.kind == StepKind::kFault ? s.fault : FaultKind::kNotPresent;
    d.out = 0;
    d.above = d.perms = 0;
    return d;
  }
}

// Reads entries from `start` down to a leaf or a fault. `a` carries agent,
// purpose, space and va; its level is set per read.
template <PagingFormat Fmt, WalkObserver Observer>
inline Descent Descend(mem::PhysMem& mem, const Fmt& fmt,
                       const WalkStart& start, mem::Access a,
                       Observer* obs, PathEntry* path, uint32_t* reads) {
  AccessReader rd(mem, a);
  uint64_t path_pa[5];
  uint64_t path_val[5];
  const BitDescent b =
      DescendBits(rd, fmt, start.table.value(), start.level,
                  PermBits(start.cumulative), a.va, obs, path_pa, path_val);
  for (unsigned i = 0; i < b.depth; ++i) {
    const unsigned level = start.level - i;
    path[i].pa = path_pa[level - 1];
    path[i].value = path_val[level - 1];
    path[i].level = static_cast<uint8_t>(level);
  }
  *reads += b.depth;
  Descent d;
  d.fault = b.fault;
  d.level = b.level;
  d.entry = b.entry;
  d.entry_pa = PhysAddr(b.entry_pa);
  d.depth = b.depth;
  if (b.fault == FaultKind::kNone) {
    d.out = PhysAddr(b.out);
    d.above = PermsOf(b.above);
    d.perms = PermsOf(b.perms);
  }
  return d;
}

// The A/D (AF/dirty) updates of a successful walk, top level first. Out of
// the hit path: a walk whose entries need no update never gets here.
// Returns false if the walk must restart (an entry changed under it).
template <PagingFormat Fmt>
bool UpdateEntries(mem::PhysMem& mem, const Fmt& fmt, const mem::Access& a,
                   uint8_t start_level, unsigned depth, const uint64_t* path_pa,
                   const uint64_t* path_val, AccessType acc, WalkResult* r) {
  mem::Access u = a;
  u.purpose = Purpose::kAdUpdate;
  for (unsigned i = 0; i < depth; ++i) {
    const bool leaf = i + 1 == depth;
    const uint8_t level = static_cast<uint8_t>(start_level - i);
    const uint64_t value = path_val[level - 1];
    const uint64_t want = fmt.Updated(value, leaf, acc);
    if (want == value) continue;
    u.level = level;
    uint64_t expected = value;
    ++r->ad_updates;
    const mem::CasResult cas =
        mem.CompareExchange64(PhysAddr(path_pa[level - 1]), &expected, want, u);
    if (cas == mem::CasResult::kSwapped) {
      if (leaf) r->t.leaf_entry = want;
      continue;
    }
    if (cas == mem::CasResult::kAbort) [[unlikely]] {
      r->fault = FaultKind::kUpdateFailed;
      r->level = level;
      r->entry = value;
      return true;
    }
    // kMismatch: the entry changed under the walk (the caller re-walks;
    // after the last attempt this is the entry it reports).
    r->level = level;
    r->entry = expected;
    return false;
  }
  return true;
}

// A in the table entries a faulting walk used: levels (fault_level,
// start_level]. Out of line: only faulting walks come here. Returns the
// number of compare-exchanges issued.
template <PagingFormat Fmt>
[[gnu::noinline]] uint32_t MarkTablesUsed(mem::PhysMem& mem, const Fmt& fmt,
                                          const mem::Access& a,
                                          uint8_t start_level,
                                          uint8_t fault_level,
                                          const uint64_t* path_pa,
                                          const uint64_t* path_val,
                                          AccessType acc) {
  mem::Access u = a;
  u.purpose = Purpose::kAdUpdate;
  uint32_t issued = 0;
  for (uint8_t level = start_level; level > fault_level; --level) {
    const uint64_t value = path_val[level - 1];
    const uint64_t want = fmt.Updated(value, /*leaf=*/false, acc);
    if (want == value) continue;
    u.level = level;
    uint64_t expected = value;
    ++issued;
    if (mem.CompareExchange64(PhysAddr(path_pa[level - 1]), &expected, want,
                              u) == mem::CasResult::kAbort) {
      break;
    }
  }
  return issued;
}

// The translation of a successful descent whose access check passed.
template <typename Fmt>
[[gnu::always_inline]] inline Translation MakeTranslation(const Fmt& fmt,
                                                          const BitDescent& d,
                                                          uint32_t perms,
                                                          VirtAddr va) {
  const unsigned shift = 12 + 9 * (d.level - 1);
  return Translation{.pa = PhysAddr(d.out + va.OffsetIn(1ull << shift)),
                     .page_shift = static_cast<uint8_t>(shift),
                     .leaf_level = d.level,
                     .perms = PermsOfFast(perms),
                     .global = fmt.Global(d.entry),
                     .leaf_entry = d.entry,
                     .leaf_entry_pa = PhysAddr(d.entry_pa)};
}

// The walk after a successful first descent (leaf at `leaf_level`, page
// base `leaf_out`, rights `perms`; entries in path_pa/path_val) whose
// entries need A/D (AF, dirty state) updates: the updates, and restarts
// while an entry changed under the walk. Out of line, on scalars and the
// caller's objects only: a walk over entries already accessed (and dirty,
// for a write) never comes here. make_fmt() rebuilds the format.
template <typename MakeFmt, WalkObserver Observer>
[[gnu::noinline]] WalkResult UpdateAndRestart(
    mem::PhysMem& mem, MakeFmt make_fmt, PhysAddr start_table,
    uint8_t start_level, Perms start_perms, VirtAddr va, AccessType acc,
    const WalkOptions& opts, Observer* obs, uint8_t leaf_level,
    uint64_t leaf_out, uint32_t perms, uint64_t* path_pa,
    uint64_t* path_val) {
  const auto fmt = make_fmt();
  mem::WalkReader rd(mem, opts.agent, opts.space, va);
  const uint32_t start_cum = PermBits(start_perms);
  BitDescent d{};
  d.fault = FaultKind::kNone;
  d.level = leaf_level;
  d.entry = path_val[leaf_level - 1];
  d.entry_pa = path_pa[leaf_level - 1];
  d.out = leaf_out;
  d.perms = perms;
  d.depth = start_level - leaf_level + 1u;
  uint32_t reads = d.depth;
  uint32_t ad_updates = 0;
  // The translation of the latest attempt that got this far: a fault after
  // a restart reports it, as the one loop over attempts always did
  // (WalkResult::t is defined only when ok()).
  Translation t = MakeTranslation(fmt, d, perms, va);
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) {
      d = DescendBits(rd, fmt, start_table.value(), start_level, start_cum,
                      va, obs, path_pa, path_val);
      reads += d.depth;
      if (d.fault != FaultKind::kNone) {
        return WalkResult{.fault = d.fault, .level = d.level,
                          .entry = d.entry, .t = t, .reads = reads,
                          .ad_updates = ad_updates};
      }
      perms = d.perms;
      PermFault pf = PermFault::kNone;
      const FaultKind f = fmt.CheckBits(d.entry, d.level, d.above, &perms,
                                        acc, fmt.Required(acc), &pf);
      if (f != FaultKind::kNone) {
        return WalkResult{.fault = f, .perm = pf, .level = d.level,
                          .entry = d.entry, .t = t, .reads = reads,
                          .ad_updates = ad_updates};
      }
      t = MakeTranslation(fmt, d, perms, va);
    }
    WalkResult r{.fault = FaultKind::kNone, .perm = PermFault::kNone,
                 .level = d.level, .entry = d.entry, .t = t, .reads = reads,
                 .ad_updates = ad_updates};
    const bool done =
        UpdateEntries(mem, fmt, rd.MakeAccess(Purpose::kAdUpdate, 0),
                      start_level, d.depth, path_pa, path_val, acc, &r);
    if (done) return r;
    if (attempt >= kMaxWalkAttempts) [[unlikely]] {
      // The updates never took: the access must not proceed without them
      // (a write on a page left clean would lose its dirty state). Hardware
      // makes them atomically and never gets here; the model answers as
      // for an update it could not make, an abort at that entry.
      r.fault = FaultKind::kUpdateFailed;
      return r;
    }
    ad_updates = r.ad_updates;
    t = r.t;
  }
}

// The walk: descent, access check, then (rarely) A/D updates and bounded
// restarts. make_fmt() returns the format (a small value: X86Format,
// Arm64Format); taking a maker rather than a format lets the hot path keep
// the format in registers, since the cold path builds its own.
//
// Two outcomes: a walk that translated with nothing to update (the common
// one) returns true with its leaf in *fast, as scalars the caller can keep
// in registers; any other walk (a fault, or A/D updates and restarts)
// returns false with its whole result in *slow.
template <typename MakeFmt, WalkObserver Observer>
[[gnu::always_inline]] inline bool RunWalkFastFrom(
    mem::PhysMem& mem, MakeFmt make_fmt, uint64_t start_table, uint8_t start_level,
    uint32_t start_cum, VirtAddr va, AccessType acc, Agent agent, SpaceId space,
    Observer* obs, FastTranslation* fast, WalkResult* slow) {
  if (start_level < 1 || start_level > 5) [[unlikely]] {
    *slow = WalkResult{.fault = FaultKind::kNotPresent, .level = start_level};
    return false;
  }
  // A reference when the maker returns one (a prepared walker's stored
  // format: no copy), else the temporary it returns.
  const auto& fmt = make_fmt();
  static_assert(PagingFormat<std::remove_cvref_t<decltype(fmt)>>);
  mem::WalkReader rd(mem, agent, space, va);
  uint64_t path_pa[5];
  uint64_t path_val[5];
  const BitDescent d =
      DescendBits(rd, fmt, start_table, start_level, start_cum, va, obs, path_pa, path_val);
  if (d.fault != FaultKind::kNone) [[unlikely]] {
    const uint32_t ad =
        d.depth > 1 ? MarkTablesUsed(mem, fmt, rd.MakeAccess(Purpose::kAdUpdate, 0),
                                     start_level, d.level, path_pa, path_val, acc)
                    : 0;
    *slow = WalkResult{.fault = d.fault, .level = d.level, .entry = d.entry,
                       .reads = d.depth, .ad_updates = ad};
    return false;
  }
  uint32_t perms = d.perms;
  PermFault pf = PermFault::kNone;
  const FaultKind f = fmt.CheckBits(d.entry, d.level, d.above, &perms, acc,
                                    fmt.Required(acc), &pf);
  if (f != FaultKind::kNone) [[unlikely]] {
    const uint32_t ad =
        d.depth > 1 ? MarkTablesUsed(mem, fmt, rd.MakeAccess(Purpose::kAdUpdate, 0),
                                     start_level, d.level, path_pa, path_val, acc)
                    : 0;
    *slow = WalkResult{.fault = f, .perm = pf, .level = d.level,
                       .entry = d.entry, .reads = d.depth, .ad_updates = ad};
    return false;
  }
  if (fmt.NeedsUpdate(d.tables_and, d.entry, acc)) [[unlikely]] {
    // The options are built here, off the common path.
    WalkOptions opts;
    opts.agent = agent;
    opts.space = space;
    *slow = UpdateAndRestart(mem, make_fmt, PhysAddr(start_table), start_level,
                             PermsOfFast(start_cum), va, acc, opts, obs, d.level,
                             d.out, perms, path_pa, path_val);
    return false;
  }
  *fast = FastTranslation{.page = d.out, .leaf = d.entry, .leaf_pa = d.entry_pa,
                          .perms = perms, .level = d.level,
                          .reads = static_cast<uint8_t>(d.depth), .ad_updates = 0};
  return true;
}
// RunWalkFastFrom() when the walk has nothing to do but read: every entry
// a plain load (WalkReader::TryRead: no slow read, no checker report), a
// table entry or (at level 1) a page that FastEntry() accepts, and a leaf
// that PlainLeaf() accepts (CheckBits() passes, nothing to update). Then
// *fast is what RunWalkFastFrom() returns, by the steps DescendBits() and
// RunWalkFastFrom() take on that walk, entries[level - 1] holds the entry
// read at each level from `start_level` down to 1, and the result is true.
// Otherwise false, having done nothing observable (no report, no write, no
// call): the caller runs the full walk, which reads the entries again and
// takes whichever path applies. Large pages and levels outside 1..5 are
// left to the full walk.
template <unsigned kLevel, typename Fmt>
[[gnu::always_inline]] inline bool TryEntry(const mem::WalkReader& rd, const Fmt& fmt,
                                            uint64_t va, uint64_t table, uint64_t* entries,
                                            uint64_t* entry_pa) {
  *entry_pa = table + ((va >> (9 * kLevel)) & 0xff8);
  uint64_t& e = entries[kLevel - 1];
  return rd.TryRead(PhysAddr(*entry_pa), static_cast<uint8_t>(kLevel), &e) &&
         fmt.FastEntry(e, static_cast<uint8_t>(kLevel));
}
template <unsigned kLevel, typename Fmt>
[[gnu::always_inline]] inline bool TryTableStep(const mem::WalkReader& rd, const Fmt& fmt,
                                                uint64_t va, uint64_t* table,
                                                uint64_t* tables_and, uint64_t* tables_or,
                                                uint64_t* entries) {
  uint64_t entry_pa;
  if (!TryEntry<kLevel>(rd, fmt, va, *table, entries, &entry_pa)) return false;
  const uint64_t e = entries[kLevel - 1];
  *tables_and &= e;
  *tables_or |= e;
  *table = e & fmt.TableAddressMask();
  return true;
}
template <typename Fmt>
[[gnu::always_inline]] inline bool TryWalkFast(const mem::WalkReader& rd, const Fmt& fmt,
                                               uint64_t table, uint8_t start_level,
                                               uint32_t start_cum, uint64_t va, AccessType acc,
                                               uint64_t* entries, FastTranslation* fast) {
  uint64_t tables_and = ~0ull;  // over the table entries read
  uint64_t tables_or = 0;
  // Entries are then 8-byte aligned (WalkReader::TryRead). Every caller's
  // table is a frame address; one that is not is left to the full walk.
  if ((table & 7) != 0) [[unlikely]] return false;
  switch (start_level) {
    case 5:
      if (!TryTableStep<5>(rd, fmt, va, &table, &tables_and, &tables_or, entries)) return false;
      [[fallthrough]];
    case 4:
      if (!TryTableStep<4>(rd, fmt, va, &table, &tables_and, &tables_or, entries)) return false;
      [[fallthrough]];
    case 3:
      if (!TryTableStep<3>(rd, fmt, va, &table, &tables_and, &tables_or, entries)) return false;
      [[fallthrough]];
    case 2:
      if (!TryTableStep<2>(rd, fmt, va, &table, &tables_and, &tables_or, entries)) return false;
      [[fallthrough]];
    case 1:
      break;
    default:
      return false;
  }
  uint64_t entry_pa;
  if (!TryEntry<1>(rd, fmt, va, table, entries, &entry_pa)) return false;
  const uint64_t e = entries[0];
  const uint32_t perms = fmt.LeafPerms(start_cum, tables_and, tables_or, e);
  if (!fmt.PlainLeaf(tables_and, e, perms, acc)) return false;
  *fast = FastTranslation{.page = e & fmt.TableAddressMask(), .leaf = e, .leaf_pa = entry_pa,
                          .perms = perms, .level = 1, .reads = start_level, .ad_updates = 0};
  return true;
}

template <typename MakeFmt, WalkObserver Observer>
[[gnu::always_inline]] inline bool RunWalkFast(
    mem::PhysMem& mem, MakeFmt make_fmt, const WalkStart& start, VirtAddr va,
    AccessType acc, const WalkOptions& opts, Observer* obs,
    FastTranslation* fast, WalkResult* slow) {
  return RunWalkFastFrom(mem, make_fmt, start.table.value(), start.level,
                         PermBitsFast(start.cumulative), va, acc, opts.agent, opts.space,
                         obs, fast, slow);
}

// The scalars of a successful WalkResult (one that took the A/D path).
inline FastTranslation FastOf(const WalkResult& w) {
  return FastTranslation{
      .page = w.t.pa.value() & ~((1ull << w.t.page_shift) - 1),
      .leaf = w.t.leaf_entry, .leaf_pa = w.t.leaf_entry_pa.value(),
      .perms = PermBitsFast(w.t.perms), .level = w.t.leaf_level,
      .reads = static_cast<uint8_t>(w.reads),
      .ad_updates = static_cast<uint8_t>(w.ad_updates)};
}

// RunWalkFast() with one result. Every return is a prvalue: nothing is
// zeroed first or copied.
template <typename MakeFmt, WalkObserver Observer>
[[gnu::always_inline]] inline WalkResult RunWalkWith(
    mem::PhysMem& mem, MakeFmt make_fmt, const WalkStart& start, VirtAddr va,
    AccessType acc, const WalkOptions& opts, Observer* obs) {
  FastTranslation t;
  WalkResult slow;
  if (!RunWalkFast(mem, make_fmt, start, va, acc, opts, obs, &t, &slow)) {
    return slow;
  }
  const auto& fmt = make_fmt();
  return WalkResult{.fault = FaultKind::kNone, .perm = PermFault::kNone,
                    .level = t.level, .entry = t.leaf,
                    .t = Translation{.pa = PhysAddr(t.Pa(va.value())),
                                     .page_shift = t.page_shift(),
                                     .leaf_level = t.level,
                                     .perms = PermsOfFast(t.perms),
                                     .global = fmt.Global(t.leaf),
                                     .leaf_entry = t.leaf,
                                     .leaf_entry_pa = PhysAddr(t.leaf_pa)},
                    .reads = t.reads, .ad_updates = 0};
}

// The walk with a format object.
template <PagingFormat Fmt, WalkObserver Observer>
[[gnu::always_inline]] inline WalkResult RunWalk(
    mem::PhysMem& mem, const Fmt& fmt, const WalkStart& start, VirtAddr va,
    AccessType acc, const WalkOptions& opts, Observer* obs) {
  return RunWalkWith(
      mem, [&fmt] { return fmt; }, start, va, acc, opts, obs);
}

}  // namespace internal
}  // namespace svaemu::arch

#endif  // SVAEMU_ARCH_WALK_H_
