// x86-64 paging: 4-level (48-bit VA) and 5-level (57-bit VA).
//
// Specification: Intel SDM Vol. 3A, chapter 4 "Paging":
//   4.5   4-level and 5-level paging; entry formats in Tables 4-15 (PML5E)
//         to 4-20 (PTE); 2 MiB pages (PS=1 in a PDE), 1 GiB pages (PS=1 in
//         a PDPTE); PS is reserved in PML5E and PML4E.
//   4.6   access rights (U/S, R/W, XD combined over every level; CR0.WP).
//   4.7   page-fault error code (P, W/R, U/S, RSVD, I/D).
//   4.8   accessed and dirty flags.
//   3.3.7.1 canonical addressing.
// VT-d first-stage translation (VT-d spec 3.6) uses the same format.
//
// Level mapping (generic numbering, see walk.h):
//   level 5 = PML5 (5-level only), 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT.
//   A leaf at level 1 maps 4 KiB, at level 2 (PDE.PS=1) 2 MiB, at level 3
//   (PDPTE.PS=1) 1 GiB.
//
// Not modelled: SMEP, SMAP, protection keys (bits 62:59 are treated as
// ignored), PAT/PCD/PWT memory types (carried, not interpreted), CR4.PGE
// (G is reported in Translation::global, nothing more), 32-bit and PAE
// paging, HLAT.
//
// Example:
//   WalkResult r = WalkX86(mem, root, X86PagingMode{.levels = 4}, va,
//                          AccessType{.write = true}, opts);
//   if (r.ok()) use(r.t.pa);
//
// Thread-safety: encoders/decoders are constexpr value functions; the walk
// functions are thread-compatible with respect to the PhysMem they read.
#ifndef SVAEMU_ARCH_X86_64_H_
#define SVAEMU_ARCH_X86_64_H_

#include <cstdint>

#include "svaemu/arch/walk.h"
#include "svaemu/arch/walker.h"
#include "svaemu/base/bits.h"

namespace svaemu::arch {

// One paging-structure entry (SDM Tables 4-15..4-20).
struct X86Entry {
  static constexpr unsigned kP = 0;     // present
  static constexpr unsigned kRw = 1;    // read/write
  static constexpr unsigned kUs = 2;    // user/supervisor
  static constexpr unsigned kPwt = 3;
  static constexpr unsigned kPcd = 4;
  static constexpr unsigned kA = 5;     // accessed
  static constexpr unsigned kD = 6;     // dirty (leaf only)
  static constexpr unsigned kPs = 7;    // page size (PDE/PDPTE); PAT in a PTE
  static constexpr unsigned kG = 8;     // global (leaf only)
  static constexpr unsigned kPatLarge = 12;  // PAT of a 2 MiB / 1 GiB leaf
  static constexpr unsigned kXd = 63;   // execute-disable (EFER.NXE=1)

  uint64_t raw = 0;

  constexpr bool present() const { return Bit(raw, kP); }
  constexpr bool writable() const { return Bit(raw, kRw); }
  constexpr bool user() const { return Bit(raw, kUs); }
  constexpr bool pwt() const { return Bit(raw, kPwt); }
  constexpr bool pcd() const { return Bit(raw, kPcd); }
  constexpr bool accessed() const { return Bit(raw, kA); }
  constexpr bool dirty() const { return Bit(raw, kD); }
  constexpr bool ps() const { return Bit(raw, kPs); }
  constexpr bool global() const { return Bit(raw, kG); }
  constexpr bool xd() const { return Bit(raw, kXd); }
  // PAT bit of a leaf at `level` (bit 7 in a PTE, bit 12 in a large leaf).
  constexpr bool pat(uint8_t level) const {
    return Bit(raw, level == 1 ? kPs : kPatLarge);
  }
  // True when this present entry at `level` maps a page.
  constexpr bool IsLeaf(uint8_t level) const {
    return level == 1 || ((level == 2 || level == 3) && ps());
  }
  // Address field, bits [max_phys_bits-1:12].
  constexpr PhysAddr address(unsigned max_phys_bits = 52) const {
    return PhysAddr(raw & BitMask(max_phys_bits - 1, 12));
  }
  // Page base of a leaf at `level` (drops PAT and the reserved low bits).
  constexpr PhysAddr page_base(uint8_t level,
                               unsigned max_phys_bits = 52) const {
    return PhysAddr(raw & BitMask(max_phys_bits - 1, 3 + 9 * level));
  }

  // A non-leaf entry as Linux writes one (_PAGE_TABLE): P, R/W, U/S, A.
  // Permissions are narrowed at the leaf only.
  static constexpr X86Entry Table(PhysAddr table) {
    return X86Entry{(table.value() & BitMask(51, 12)) | (1ull << kP) |
                    (1ull << kRw) | (1ull << kUs) | (1ull << kA)};
  }
  // A leaf at `level` (1: PTE; 2, 3: PS=1) mapping `pa` (aligned to the
  // level's page size): R/W=write, U/S=user, XD=!exec, G=global,
  // A=accessed, D=dirty.
  static constexpr X86Entry Leaf(uint8_t level, PhysAddr pa,
                                 const MapAttrs& m) {
    uint64_t v = (pa.value() & BitMask(51, 12)) | (1ull << kP);
    v = SetBit(v, kRw, m.write);
    v = SetBit(v, kUs, m.user);
    v = SetBit(v, kA, m.accessed);
    v = SetBit(v, kD, m.dirty);
    v = SetBit(v, kG, m.global);
    v = SetBit(v, kXd, !m.exec);
    if (level > 1) v |= 1ull << kPs;
    return X86Entry{v};
  }
  // The same leaf moved to `to_level` (split/promote) mapping `pa`: keeps
  // every attribute, moves PAT between bit 7 (PTE) and bit 12 (large).
  static constexpr X86Entry Releveled(X86Entry leaf, uint8_t from_level,
                                      uint8_t to_level, PhysAddr pa) {
    const bool pat = leaf.pat(from_level);
    uint64_t v = leaf.raw & ~BitMask(51, 12) & ~(1ull << kPs);
    v |= pa.value() & BitMask(51, 12);
    if (to_level > 1) {
      v |= 1ull << kPs;
      v = SetBit(v, kPatLarge, pat);
    } else {
      v = SetBit(v, kPs, pat);
    }
    return X86Entry{v};
  }
};

struct X86PagingMode {
  uint8_t levels = 4;  // 4 (CR4.LA57=0) or 5 (CR4.LA57=1); other values: 4
};

// True when `va` is canonical for the mode (SDM 3.3.7.1): bits 63:47
// (4-level) or 63:56 (5-level) all equal.
constexpr bool X86Canonical(VirtAddr va, uint8_t levels) {
  const unsigned top = levels == 5 ? 56 : 47;
  return SignExtend(va.value(), top) == va.value();
}

// The format descriptor for internal::RunWalk.
class X86Format {
 public:
  // 4-level, default options (a placeholder to assign over).
  X86Format() : X86Format(X86PagingMode{}, WalkOptions{}) {}
  X86Format(const X86PagingMode& mode, const WalkOptions& opts)
      : levels_(mode.levels == 5 ? 5 : 4),
        nxe_(opts.nxe),
        write_protect_(opts.write_protect),
        set_accessed_(opts.set_accessed),
        set_dirty_(opts.set_dirty),
        pages_1g_(opts.pages_1g) {
    const unsigned m =
        opts.max_phys_bits < 32 ? 32
                                : (opts.max_phys_bits > 52 ? 52
                                                           : opts.max_phys_bits);
    const uint64_t below_m = (1ull << m) - 1;
    addr_mask_ = below_m & ~uint64_t{0xfff};  // BitMask(m - 1, 12)
    // SDM 4.5: address bits above MAXPHYADDR (up to bit 51) are reserved;
    // without EFER.NXE, bit 63 is reserved too.
    rsvd_ = (BitMask(51, 0) & ~below_m) | (nxe_ ? 0 : (1ull << X86Entry::kXd));
    xd_ = nxe_ ? (1ull << X86Entry::kXd) : 0;
    a_ = set_accessed_ ? (1ull << X86Entry::kA) : 0;
    d_ = set_dirty_ ? (1ull << X86Entry::kD) : 0;
  }

  uint8_t levels() const { return levels_; }
  bool Canonical(VirtAddr va) const { return X86Canonical(va, levels_); }
  uint64_t addr_mask() const { return addr_mask_; }

  internal::Step Decode(uint64_t e, uint8_t level, Perms* cum) const {
    uint32_t b = internal::PermBits(*cum);
    const internal::BitStep s = DecodeBits(e, level, &b);
    *cum = internal::PermsOf(b);
    return internal::Step{.kind = s.kind, .fault = s.fault,
                          .out = PhysAddr(s.out)};
  }

  // Decode on permission bits (walk.h): a present table entry or PTE with
  // no reserved bit is one masked compare; the rest goes to DecodeOther().
  [[gnu::always_inline]] internal::BitStep DecodeBits(uint64_t e,
                                                      uint8_t level,
                                                      uint32_t* cum) const {
    using internal::StepKind;
    const uint64_t ps = level >= 2 ? (1ull << X86Entry::kPs) : 0;
    if ((e & (rsvd_ | ps | (1ull << X86Entry::kP))) == 1) [[likely]] {
      *cum &= EntryPerms(e);
      return internal::BitStep{
          .kind = level == 1 ? StepKind::kLeaf : StepKind::kTable,
          .out = e & addr_mask_};
    }
    return DecodeOther(e, level, cum);
  }

  // A present entry with no reserved bit set that is a table (level > 1,
  // PS=0) or a PTE: R/W, U/S and XD narrow the rights the same way in both.
  [[gnu::always_inline]] bool FastEntry(uint64_t e, uint8_t level) const {
    const uint64_t ps = level > 1 ? (1ull << X86Entry::kPs) : 0;
    return (e & (rsvd_ | ps | (1ull << X86Entry::kP))) == (1ull << X86Entry::kP);
  }
  uint64_t TableAddressMask() const { return addr_mask_; }
  // A PTE narrows the rights as a table entry does (SDM 4.6.1): one more
  // entry in the run.
  [[gnu::always_inline]] uint32_t LeafPerms(uint32_t start, uint64_t tables_and,
                                            uint64_t tables_or, uint64_t pte) const {
    return start & TablePerms(tables_and & pte, tables_or | pte);
  }
  // SDM 4.6.1: R/W and U/S must be 1 in every entry, XD 0 in every entry.
  [[gnu::always_inline]] uint32_t TablePerms(uint64_t tables_and,
                                             uint64_t tables_or) const {
    using namespace internal;
    // R/W (bit 1) and U/S (bit 2) to kPermWrite (bit 3) and kPermUser (bit
    // 2) in one multiply: (v & 6) * 5 = v * 4 + v, whose bits 3 and 2 are
    // R/W and U/S (no carries: the two partial products share no bit).
    static_assert(X86Entry::kRw == 1 && X86Entry::kUs == 2 && kPermWrite == 8 &&
                  kPermUser == 4);
    const uint32_t rw_us =
        (static_cast<uint32_t>(tables_and & 6) * 5) & (kPermWrite | kPermUser);
    return rw_us | ((tables_or & xd_) != 0 ? 0 : kPermExecUser | kPermExecPriv);
  }

  // SDM 4.6.1 (data and instruction-fetch access rights). A user access to
  // a supervisor page faults; a user write needs R/W=1 everywhere; a
  // supervisor write to a read-only page faults iff CR0.WP=1; any fetch of
  // an XD page faults.
  FaultKind Check(uint64_t /*leaf*/, uint8_t /*level*/, const Perms& /*above*/,
                  Perms* p, AccessType acc, PermFault* pf) const {
    PermFault f = PermFault::kNone;
    if (acc.user) {
      if (!p->user) {
        f = PermFault::kUser;
      } else if (acc.write && !p->write) {
        f = PermFault::kWrite;
      } else if (acc.exec && !p->exec_user) {
        f = PermFault::kExec;
      }
    } else {
      if (acc.write && !p->write && write_protect_) {
        f = PermFault::kWrite;
      } else if (acc.exec && !p->exec_priv) {
        f = PermFault::kExec;
      }
    }
    *pf = f;
    return f == PermFault::kNone ? FaultKind::kNone : FaultKind::kPermission;
  }

  // The permission bits Check() requires for `acc`.
  uint32_t Required(AccessType acc) const {
    using namespace internal;
    if (acc.user) {
      return kPermUser | (acc.write ? kPermWrite : 0) |
             (acc.exec ? kPermExecUser : 0);
    }
    return (acc.write && write_protect_ ? kPermWrite : 0) |
           (acc.exec ? kPermExecPriv : 0);
  }
  // `above` is unused: x86 rights do not depend on the levels above the
  // leaf separately (so the walk never computes them).
  [[gnu::always_inline]] FaultKind CheckBits(uint64_t leaf, uint8_t level,
                                             uint32_t /*above*/, uint32_t* p,
                                             AccessType acc, uint32_t required,
                                             PermFault* pf) const {
    if ((*p & required) == required) [[likely]] {
      *pf = PermFault::kNone;
      return FaultKind::kNone;
    }
    Perms perms = internal::PermsOf(*p);
    const FaultKind f = Check(leaf, level, Perms{}, &perms, acc, pf);
    *p = internal::PermBits(perms);
    return f;
  }

  // SDM 4.8: A in every entry used; D in the leaf on a write.
  uint64_t Updated(uint64_t e, bool leaf, AccessType acc) const {
    if (set_accessed_) e |= 1ull << X86Entry::kA;
    if (leaf && acc.write && set_dirty_) e |= 1ull << X86Entry::kD;
    return e;
  }
  // Updated() only sets bits: nothing to do when the tables all have A and
  // the leaf has A (and D for a write).
  [[gnu::always_inline]] bool NeedsUpdate(uint64_t tables_and, uint64_t leaf,
                                          AccessType acc) const {
    const uint64_t leaf_want = a_ | (acc.write ? d_ : 0);
    return (((tables_and & a_) ^ a_) | ((leaf & leaf_want) ^ leaf_want)) != 0;
  }
  // A leaf a walk takes as read (TryWalkFast's acceptance): CheckBits()
  // passes and NeedsUpdate() is false.
  [[gnu::always_inline]] bool PlainLeaf(uint64_t tables_and, uint64_t leaf, uint32_t perms,
                                        AccessType acc) const {
    PermFault pf;
    return CheckBits(leaf, 1, 0, &perms, acc, Required(acc), &pf) == FaultKind::kNone &&
           !NeedsUpdate(tables_and, leaf, acc);
  }

  bool Global(uint64_t leaf) const { return Bit(leaf, X86Entry::kG); }

 private:
  // R/W, U/S and XD of one entry as permission bits (SDM 4.6.1: rights
  // combine over every level used).
  uint32_t EntryPerms(uint64_t e) const {
    using namespace internal;
    return (static_cast<uint32_t>(e >> X86Entry::kRw) & 1 ? kPermWrite : 0) |
           (static_cast<uint32_t>(e) & kPermUser) |  // U/S is bit 2
           ((e & xd_) != 0 ? 0 : kPermExecUser | kPermExecPriv);
  }
  static_assert(internal::kPermUser == 1u << X86Entry::kUs);

  internal::BitStep DecodeOther(uint64_t e, uint8_t level,
                                uint32_t* cum) const {
    using internal::BitStep;
    using internal::StepKind;
    if (!Bit(e, X86Entry::kP)) {
      return BitStep{.kind = StepKind::kFault, .fault = FaultKind::kNotPresent};
    }
    uint64_t rsvd = rsvd_;
    bool leaf = level == 1;
    if (level >= 2 && Bit(e, X86Entry::kPs)) {
      if (level >= 4 || (level == 3 && !pages_1g_)) {
        // SDM Table 4-15/4-16: PS must be 0 in a PML5E and a PML4E; and in
        // a PDPE without 1-GByte pages (SDM 4.5.4; VT-d CAP.FL1GP = 0).
        return BitStep{.kind = StepKind::kFault,
                       .fault = FaultKind::kReservedBit};
      }
      // SDM Tables 4-17/4-18: bits [29:13] of a 1 GiB leaf and [20:13] of
      // a 2 MiB leaf are reserved (bit 12 is PAT).
      rsvd |= BitMask(3 + 9 * level - 1, 13);
      leaf = true;
    }
    if ((e & rsvd) != 0) {
      return BitStep{.kind = StepKind::kFault, .fault = FaultKind::kReservedBit};
    }
    *cum &= EntryPerms(e);
    if (leaf) {
      return BitStep{.kind = StepKind::kLeaf,
                     .out = e & addr_mask_ & ~(EntryCoverage(level) - 1)};
    }
    return BitStep{.kind = StepKind::kTable, .out = e & addr_mask_};
  }

  uint8_t levels_;
  bool nxe_;
  bool write_protect_;
  bool set_accessed_;
  bool set_dirty_;
  bool pages_1g_;
  uint64_t addr_mask_ = 0;
  uint64_t rsvd_ = 0;
  uint64_t xd_ = 0;  // XD when EFER.NXE=1, else 0 (XD is then reserved)
  uint64_t a_ = 0;   // A if set_accessed, D if set_dirty
  uint64_t d_ = 0;
};

// The x86-64 walker prepared for one paging mode and set of options.
using X86Walker = PreparedWalker<X86Format>;
inline X86Walker MakeX86Walker(const X86PagingMode& mode,
                               const WalkOptions& opts) {
  return X86Walker(X86Format(mode, opts));
}

// Walks from a table at any level (a paging-structure cache hit). The
// canonical check applies; start.level above the mode's top level faults
// as not present.
template <WalkObserver Observer = NullObserver>
WalkResult WalkX86(mem::PhysMem& mem, const WalkStart& start,
                   const X86PagingMode& mode, VirtAddr va, AccessType acc,
                   const WalkOptions& opts, Observer* obs = nullptr) {
  const X86Format fmt(mode, opts);
  if (!fmt.Canonical(va) || start.level > fmt.levels()) [[unlikely]] {
    WalkResult r;
    r.fault = fmt.Canonical(va) ? FaultKind::kNotPresent
                                : FaultKind::kNonCanonical;
    r.level = start.level;
    return r;
  }
  return internal::RunWalkWith(
      mem, [&mode, &opts] { return X86Format(mode, opts); }, start, va, acc,
      opts, obs);
}

// Full walk from the root (CR3 / VT-d FSPTPTR: bits [MAXPHYADDR-1:12]).
template <WalkObserver Observer = NullObserver>
WalkResult WalkX86(mem::PhysMem& mem, PhysAddr root, const X86PagingMode& mode,
                   VirtAddr va, AccessType acc, const WalkOptions& opts,
                   Observer* obs = nullptr) {
  const X86Format fmt(mode, opts);
  const WalkStart start{.table = PhysAddr(root.value() & fmt.addr_mask()),
                        .level = fmt.levels(),
                        .cumulative = Perms{}};
  if (!fmt.Canonical(va)) [[unlikely]] {
    WalkResult r;
    r.fault = FaultKind::kNonCanonical;
    r.level = start.level;
    return r;
  }
  return internal::RunWalkWith(
      mem, [&mode, &opts] { return X86Format(mode, opts); }, start, va, acc,
      opts, obs);
}

}  // namespace svaemu::arch

#endif  // SVAEMU_ARCH_X86_64_H_
