// arm64 VMSAv8-64 stage 1 translation, 4 KiB granule, 48-bit VA and OA.
//
// Specification: Arm Architecture Reference Manual for A-profile (DDI 0487),
// chapter D8 "The AArch64 Virtual Memory System Architecture":
//   D8.2  translation table walk: TTBR0/TTBR1 selection by VA[63:48] with
//         T0SZ = T1SZ = 16; TCR_ELx.EPD0/EPD1 disable walks of one half.
//   D8.3  descriptor formats: bits[1:0] 0b11 = table (L0..L2) or page (L3),
//         0b01 = block (L1, L2 with the 4 KiB granule), bit 0 = 0 invalid;
//         a block at L0 and 0b01 at L3 are translation faults.
//   D8.4  access permissions: AP[2:1] (bits 7:6), UXN (54), PXN (53); the
//         hierarchical controls APTable (62:61), UXNTable (60), PXNTable
//         (59); "EL0-writable implies PXN" for the EL1&0 regime.
//   D8.5  hardware management of the Access flag (TCR.HA) and of dirty state
//         (TCR.HD with DBM, bit 51).
//   Fault prioritization (D8, "Prioritization of ... faults"): translation,
//         address size, access flag, permission.
// SMMUv3 stage 1 (IHI 0070, 3.4 and CD.TTB0/TTB1/EPD0/EPD1/HA/HD) uses the
// same format.
//
// Level mapping (generic numbering, see walk.h):
//   level 4 = L0, 3 = L1, 2 = L2, 1 = L3 (arm level = 4 - generic level).
//   A page at level 1 maps 4 KiB, a block at level 2 2 MiB, at level 3 1 GiB.
//
// Also: FEAT_HPDS (hierarchical permissions disabled per half) and
// FEAT_AFFD (no Access flag fault), as SMMUv3 CD.HAD0/HAD1 and CD.AFFD use.
//
// Also: TBI per half (D8.8 / TCR.TBI0/TBI1; SMMUv3 CD.TBI0/TBI1): VA[55]
// selects the half, and with TBI for it VA[63:56] are ignored (taken as
// copies of VA[55]); PAN (privileged data accesses to EL0-accessible
// locations fault) and WXN (a location writable at an EL is execute-never
// at that EL), as in the EL1&0 regime's permission checks (D8.4.x).
//
// Not modelled: 16/64 KiB granules, T0SZ/T1SZ other than 16, FEAT_LPA/LPA2
// (52-bit OA), FEAT_HAFT (table AF), EPAN, the contiguous hint (carried,
// not interpreted), memory attributes (AttrIndx/SH carried), stage 2.
// A page with DBM = 1 that is still read-only (AP[2] = 1) is not writable
// for WXN.
//
// Thread-safety: encoders/decoders are constexpr value functions; the walk
// functions are thread-compatible with respect to the PhysMem they read.
#ifndef SVAEMU_ARCH_ARM64_H_
#define SVAEMU_ARCH_ARM64_H_

#include <array>
#include <cstdint>

#include "svaemu/arch/walk.h"
#include "svaemu/arch/walker.h"
#include "svaemu/base/bits.h"

namespace svaemu::arch {

// One VMSAv8-64 descriptor (Arm ARM D8.3).
struct Arm64Desc {
  static constexpr unsigned kValid = 0;
  static constexpr unsigned kTypeTable = 1;   // bit 1: table/page vs block
  static constexpr unsigned kNs = 5;
  static constexpr unsigned kAp1 = 6;         // AP[1]: EL0 access
  static constexpr unsigned kAp2 = 7;         // AP[2]: read-only
  static constexpr unsigned kAf = 10;         // access flag
  static constexpr unsigned kNg = 11;         // not global
  static constexpr unsigned kDbm = 51;        // dirty bit modifier
  static constexpr unsigned kContiguous = 52;
  static constexpr unsigned kPxn = 53;
  static constexpr unsigned kUxn = 54;
  static constexpr unsigned kPxnTable = 59;
  static constexpr unsigned kUxnTable = 60;
  static constexpr unsigned kApTable0 = 61;   // APTable[0]: no EL0 below
  static constexpr unsigned kApTable1 = 62;   // APTable[1]: no write below
  static constexpr unsigned kNsTable = 63;
  static constexpr unsigned kOaBits = 48;

  uint64_t raw = 0;

  constexpr bool valid() const { return Bit(raw, kValid); }
  constexpr unsigned type() const { return static_cast<unsigned>(raw & 3); }
  constexpr bool IsTable(uint8_t level) const {
    return type() == 3 && level > 1;
  }
  constexpr bool IsPage(uint8_t level) const {
    return type() == 3 && level == 1;
  }
  constexpr bool IsBlock(uint8_t level) const {
    return type() == 1 && (level == 2 || level == 3);
  }
  constexpr bool IsLeaf(uint8_t level) const {
    return IsPage(level) || IsBlock(level);
  }
  constexpr unsigned attr_indx() const {
    return static_cast<unsigned>(Bits(raw, 4, 2));
  }
  constexpr bool ns() const { return Bit(raw, kNs); }
  constexpr unsigned ap() const { return static_cast<unsigned>(Bits(raw, 7, 6)); }
  constexpr bool ap1() const { return Bit(raw, kAp1); }
  constexpr bool ap2() const { return Bit(raw, kAp2); }
  constexpr unsigned sh() const { return static_cast<unsigned>(Bits(raw, 9, 8)); }
  constexpr bool af() const { return Bit(raw, kAf); }
  constexpr bool ng() const { return Bit(raw, kNg); }
  constexpr bool dbm() const { return Bit(raw, kDbm); }
  constexpr bool contiguous() const { return Bit(raw, kContiguous); }
  constexpr bool pxn() const { return Bit(raw, kPxn); }
  constexpr bool uxn() const { return Bit(raw, kUxn); }
  constexpr bool pxn_table() const { return Bit(raw, kPxnTable); }
  constexpr bool uxn_table() const { return Bit(raw, kUxnTable); }
  constexpr unsigned ap_table() const {
    return static_cast<unsigned>(Bits(raw, 62, 61));
  }
  constexpr bool ns_table() const { return Bit(raw, kNsTable); }
  // Next-level table address, bits [47:12].
  constexpr PhysAddr table_address() const {
    return PhysAddr(raw & BitMask(kOaBits - 1, 12));
  }
  // Output address of a leaf at `level`: bits [47:12] (page), [47:21]
  // (L2 block), [47:30] (L1 block).
  constexpr PhysAddr output_address(uint8_t level) const {
    return PhysAddr(raw & BitMask(kOaBits - 1, 3 + 9 * level));
  }

  // A table descriptor without hierarchical restrictions.
  static constexpr Arm64Desc Table(PhysAddr table) {
    return Arm64Desc{(table.value() & BitMask(kOaBits - 1, 12)) | 3};
  }
  // A page (level 1) or block (levels 2, 3) descriptor as Linux encodes
  // one: AP[2]=!write, AP[1]=user, UXN=!(exec && user),
  // PXN=!(exec && !user), nG=!global, AF=accessed, SH=0b11 (inner
  // shareable), AttrIndx=0, DBM=0 (MapAttrs::dirty is not encoded: no
  // clean/dirty scheme).
  static constexpr Arm64Desc Leaf(uint8_t level, PhysAddr pa,
                                  const MapAttrs& m) {
    uint64_t v = (pa.value() & BitMask(kOaBits - 1, 12)) | (level == 1 ? 3 : 1);
    v = SetBits(v, 9, 8, 3);
    v = SetBit(v, kAp2, !m.write);
    v = SetBit(v, kAp1, m.user);
    v = SetBit(v, kAf, m.accessed);
    v = SetBit(v, kNg, !m.global);
    v = SetBit(v, kUxn, !(m.exec && m.user));
    v = SetBit(v, kPxn, !(m.exec && !m.user));
    return Arm64Desc{v};
  }
  // The same leaf at `to_level` mapping `pa` (split/promote).
  static constexpr Arm64Desc Releveled(Arm64Desc leaf, uint8_t /*from*/,
                                       uint8_t to_level, PhysAddr pa) {
    uint64_t v = leaf.raw & ~BitMask(kOaBits - 1, 12) & ~3ull;
    v |= (pa.value() & BitMask(kOaBits - 1, 12)) | (to_level == 1 ? 3 : 1);
    return Arm64Desc{v};
  }
};

// Stage 1 configuration (TTBRn_EL1/TCR_EL1, or an SMMUv3 CD).
struct Arm64Stage1Config {
  PhysAddr ttbr0;  // table base addresses (BADDR), not raw TTBR values
  PhysAddr ttbr1;
  bool epd0 = false;  // no walks for VA[63:48] == 0
  bool epd1 = false;  // no walks for VA[63:48] == 0xffff
  bool ha = false;    // hardware Access flag update
  bool hd = false;    // hardware dirty state (DBM) update; treated as
                      // false unless ha (D8.5: HD requires HA)
  // FEAT_HPDS (TCR.HPD0/HPD1; SMMUv3 CD.HAD0/HAD1): APTable, UXNTable and
  // PXNTable of the tables walked from that half are ignored.
  bool hpd0 = false;
  bool hpd1 = false;
  // FEAT_AFFD (SMMUv3 CD.AFFD): with ha == false, a leaf with AF == 0 is
  // used as if AF were 1 instead of raising an Access flag fault.
  bool affd = false;
  // Top Byte Ignore per half (chosen by VA[55]): VA[63:56] are ignored.
  bool tbi0 = false;
  bool tbi1 = false;
  // PAN: a privileged data access to a location EL0 may access (AP[1] and
  // APTable[0] allow it) is a Permission fault. WXN: a location writable
  // at the accessing EL is execute-never there.
  bool pan = false;
  bool wxn = false;
};

// The VA a walk translates (D8.8, IHI 0070 3.4.1): with TBI for the half
// VA[55] selects, VA[63:56] replaced by copies of VA[55]; else `va`.
constexpr uint64_t Arm64EffectiveVa(bool tbi0, bool tbi1, uint64_t va) {
  const bool upper = ((va >> 55) & 1) != 0;
  if (!(upper ? tbi1 : tbi0)) return va;
  return static_cast<uint64_t>(static_cast<int64_t>(va << 8) >> 8);
}

// The format descriptor for internal::RunWalk.
namespace internal {
// D8.4 stage 1 data and instruction access permissions of a page or block
// descriptor: AP[2] (no write), AP[1]=0 (no EL0), UXN, PXN; and a location
// writable from EL0 is never executable at EL1. `cum`: the rights above
// (PermsIndex bits); `bits`: PXN, UXN, AP[1], AP[2] in bits 4, 5, 6, 7.
constexpr uint32_t Arm64PagePermsRule(uint32_t cum, uint32_t bits) {
  uint32_t clear = (bits >> 4) & 3;                // PXN, UXN
  if ((bits >> 7) & 1) clear |= kPermWrite;        // AP[2]
  if (((bits >> 6) & 1) == 0) clear |= kPermUser;  // AP[1]
  cum &= ~clear;
  if ((cum & (kPermUser | kPermWrite)) == (kPermUser | kPermWrite)) cum &= ~kPermExecPriv;
  return cum;
}
// Arm64PagePermsRule() by index (rights | bits).
inline constexpr std::array<uint8_t, 256> kArm64PagePerms = [] {
  std::array<uint8_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    t[i] = static_cast<uint8_t>(Arm64PagePermsRule(i & 15, i & 0xf0));
  }
  return t;
}();
}  // namespace internal

class Arm64Format {
 public:
  // Default configuration and options (a placeholder to assign over).
  Arm64Format() : Arm64Format(Arm64Stage1Config{}, WalkOptions{}) {}
  // The format of walks from one half (`half`: 0 for TTBR0, 1 for TTBR1,
  // which picks HPD0 or HPD1).
  Arm64Format(const Arm64Stage1Config& cfg, const WalkOptions& opts, int half = 0)
      : ha_(cfg.ha),
        hd_(cfg.ha && cfg.hd),
        af_ok_(cfg.ha || cfg.affd),
        pan_(cfg.pan),
        wxn_(cfg.wxn),
        strict_(cfg.pan || cfg.wxn),
        hier_((half == 1 ? cfg.hpd1 : cfg.hpd0) ? 0u : 15u) {
    const unsigned oa = opts.max_phys_bits < Arm64Desc::kOaBits
                            ? (opts.max_phys_bits < 32 ? 32 : opts.max_phys_bits)
                            : Arm64Desc::kOaBits;
    // D8.3: with the 4 KiB granule and DS = 0 (no FEAT_LPA2, not
    // modelled) the output address is desc[47:12] and desc[49:48] are
    // RES0, outside the address (the architecture's walk ignores them;
    // with LPA2 they would be OA[49:48]). An OA bit at or above the OA
    // size, below 48, is an Address size fault.
    oa_fault_mask_ = oa < Arm64Desc::kOaBits ? BitMask(Arm64Desc::kOaBits - 1, oa) : 0;
  }

  uint64_t oa_fault_mask() const { return oa_fault_mask_; }

  internal::Step Decode(uint64_t e, uint8_t level, Perms* cum) const {
    uint32_t b = internal::PermBits(*cum);
    const internal::BitStep s = DecodeBits(e, level, &b);
    *cum = internal::PermsOf(b);
    return internal::Step{.kind = s.kind, .fault = s.fault,
                          .out = PhysAddr(s.out)};
  }

  // Decode on permission bits (walk.h): a valid table descriptor within
  // the OA size is one masked compare; the rest goes to DecodeOther().
  [[gnu::always_inline]] internal::BitStep DecodeBits(uint64_t e,
                                                      uint8_t level,
                                                      uint32_t* cum) const {
    if ((e & (oa_fault_mask_ | 3)) == 3 && level > 1) [[likely]] {
      // D8.4 hierarchical permissions: PXNTable, UXNTable, APTable[0] (no
      // EL0), APTable[1] (no write) land on kPermExecPriv..kPermWrite
      // (none of them with HPD).
      *cum &= ~(static_cast<uint32_t>(e >> Arm64Desc::kPxnTable) & hier_);
      return internal::BitStep{
          .kind = internal::StepKind::kTable,
          .out = e & BitMask(Arm64Desc::kOaBits - 1, 12)};
    }
    return DecodeOther(e, level, cum);
  }

  // A valid table descriptor (level > 1) or page descriptor (level 1)
  // within the OA size (D8.3: both are 0b11; at level 1 it is a page).
  [[gnu::always_inline]] bool FastEntry(uint64_t e, uint8_t /*level*/) const {
    return (e & (oa_fault_mask_ | 3)) == 3;
  }
  // A page descriptor narrows the rights by its own bits (PagePerms).
  [[gnu::always_inline]] uint32_t LeafPerms(uint32_t start, uint64_t tables_and,
                                            uint64_t tables_or, uint64_t page) const {
    return PagePerms(start & TablePerms(tables_and, tables_or), page);
  }
  uint64_t TableAddressMask() const {
    return BitMask(Arm64Desc::kOaBits - 1, 12);
  }
  // D8.4: each of PXNTable, UXNTable, APTable[0], APTable[1] set in any
  // table descriptor removes its right below (unless HPD).
  [[gnu::always_inline]] uint32_t TablePerms(uint64_t /*tables_and*/,
                                             uint64_t tables_or) const {
    return ~(static_cast<uint32_t>(tables_or >> Arm64Desc::kPxnTable) & hier_) & 15;
  }

  // D8 fault prioritization: an Access flag fault before a Permission fault.
  FaultKind Check(uint64_t leaf, uint8_t /*level*/, const Perms& above,
                  Perms* p, AccessType acc, PermFault* pf) const {
    // D8.5.1: AF=0 faults unless the hardware sets it (or AFFD).
    if (!Bit(leaf, Arm64Desc::kAf) && !af_ok_) return FaultKind::kAccessFlag;
    PermFault f = PermFault::kNone;
    if (acc.exec) {
      // WXN: writable at the accessing EL (EL0: AP[1] too) means XN there.
      const bool wx = wxn_ && p->write && (!acc.user || p->user);
      if (wx || !(acc.user ? p->exec_user : p->exec_priv)) f = PermFault::kExec;
    } else if (acc.user && !p->user) {
      f = PermFault::kUser;
    } else if (pan_ && !acc.user && p->user) {
      f = PermFault::kPan;  // a privileged data access to an EL0 location
    } else if (acc.write && !p->write) {
      // D8.5.2: a write to a read-only page with DBM=1 makes it writable
      // (clears AP[2]) when TCR.HD=1, unless a table above forbids writes.
      if (hd_ && Bit(leaf, Arm64Desc::kDbm) && above.write) {
        p->write = true;
        if (p->user) p->exec_priv = false;  // now EL0-writable
      } else {
        f = PermFault::kWrite;
      }
    }
    *pf = f;
    return f == PermFault::kNone ? FaultKind::kNone : FaultKind::kPermission;
  }

  // D8.5: AF and the dirty state live in the leaf only (no FEAT_HAFT).
  uint64_t Updated(uint64_t e, bool leaf, AccessType acc) const {
    if (!leaf) return e;
    if (ha_) e |= 1ull << Arm64Desc::kAf;
    if (hd_ && acc.write && Bit(e, Arm64Desc::kDbm)) {
      e &= ~(1ull << Arm64Desc::kAp2);
    }
    return e;
  }

  // The permission bits Check() requires for `acc` (before D8.5.2's
  // dirty-state rescue, which CheckBits leaves to Check()).
  uint32_t Required(AccessType acc) const {
    using namespace internal;
    if (acc.exec) return acc.user ? kPermExecUser : kPermExecPriv;
    return (acc.user ? kPermUser : 0) | (acc.write ? kPermWrite : 0);
  }
  [[gnu::always_inline]] FaultKind CheckBits(uint64_t leaf, uint8_t level,
                                             uint32_t above, uint32_t* p,
                                             AccessType acc, uint32_t required,
                                             PermFault* pf) const {
    // (PAN and WXN forbid rights the mask test cannot see: Check() decides.)
    if ((Bit(leaf, Arm64Desc::kAf) || af_ok_) && (*p & required) == required && !strict_)
        [[likely]] {
      *pf = PermFault::kNone;
      return FaultKind::kNone;
    }
    Perms perms = internal::PermsOf(*p);
    const FaultKind f =
        Check(leaf, level, internal::PermsOf(above), &perms, acc, pf);
    *p = internal::PermBits(perms);
    return f;
  }
  [[gnu::always_inline]] bool NeedsUpdate(uint64_t /*tables_and*/,
                                          uint64_t leaf,
                                          AccessType acc) const {
    return Updated(leaf, true, acc) != leaf;
  }
  // A leaf a walk takes as read, in one test (TryWalkFast's acceptance):
  // true only if CheckBits() passes leaving `perms` as they are and
  // NeedsUpdate() is false. AF set (no Access flag fault, nothing for HA to
  // set) and the rights hold what the access requires and, for a write,
  // the write right (so AP[2] = 0: nothing for HD to clear). It declines
  // some walks that need no update (a write-and-execute request to a page
  // it may not write); those take the full walk.
  [[gnu::always_inline]] bool PlainLeaf(uint64_t /*tables_and*/, uint64_t leaf, uint32_t perms,
                                        AccessType acc) const {
    const uint32_t need = Required(acc) | (acc.write ? internal::kPermWrite : 0);
    return Bit(leaf, Arm64Desc::kAf) && (perms & need) == need && !strict_;
  }

  bool Global(uint64_t leaf) const { return !Bit(leaf, Arm64Desc::kNg); }

 private:
  internal::BitStep DecodeOther(uint64_t e, uint8_t level,
                                uint32_t* cum) const {
    using internal::BitStep;
    using internal::StepKind;
    // D8.3: bit 0 = 0 is invalid; 0b01 is a block only at L1/L2.
    const unsigned type = static_cast<unsigned>(e & 3);
    const bool table_or_page = type == 3;
    const bool block = type == 1 && (level == 2 || level == 3);
    if (!table_or_page && !block) {
      return BitStep{.kind = StepKind::kFault, .fault = FaultKind::kNotPresent};
    }
    if ((e & oa_fault_mask_) != 0) {
      return BitStep{.kind = StepKind::kFault, .fault = FaultKind::kAddressSize};
    }
    if (table_or_page && level > 1) {
      *cum &= ~(static_cast<uint32_t>(e >> Arm64Desc::kPxnTable) & hier_);
      return BitStep{.kind = StepKind::kTable,
                     .out = e & BitMask(Arm64Desc::kOaBits - 1, 12)};
    }
    *cum = PagePerms(*cum, e);
    return BitStep{.kind = StepKind::kLeaf,
                   .out = e & BitMask(Arm64Desc::kOaBits - 1, 3 + 9 * level)};
  }
  // D8.4 (Arm64PagePermsRule) by a table: one load per leaf, no branches.
  [[gnu::always_inline]] static uint32_t PagePerms(uint32_t cum, uint64_t e) {
    static_assert(Arm64Desc::kUxn == Arm64Desc::kPxn + 1 && Arm64Desc::kAp1 == 6 &&
                  Arm64Desc::kAp2 == 7);
    const uint32_t bits = (static_cast<uint32_t>(e >> (Arm64Desc::kPxn - 4)) & 0x30) |
                          (static_cast<uint32_t>(e) & 0xc0);
    return internal::kArm64PagePerms[(cum & 15) | bits];
  }
  static_assert(Arm64Desc::kUxnTable == Arm64Desc::kPxnTable + 1 &&
                Arm64Desc::kApTable0 == Arm64Desc::kPxnTable + 2 &&
                Arm64Desc::kApTable1 == Arm64Desc::kPxnTable + 3 &&
                internal::kPermExecPriv == 1 && internal::kPermExecUser == 2 &&
                internal::kPermUser == 4 && internal::kPermWrite == 8 &&
                Arm64Desc::kUxn == Arm64Desc::kPxn + 1);

  bool ha_;
  bool hd_;
  bool af_ok_;     // no Access flag fault: HA or AFFD
  bool pan_;
  bool wxn_;
  bool strict_;    // pan_ || wxn_: every leaf goes through Check()
  uint32_t hier_;  // the table-permission bits that apply: 15, or 0 (HPD)
  uint64_t oa_fault_mask_ = 0;
};

// The arm64 stage-1 walker prepared for one configuration and options.
using Arm64Walker = PreparedWalker<Arm64Format>;
inline Arm64Walker MakeArm64Walker(const Arm64Stage1Config& cfg, const WalkOptions& opts,
                                   int half = 0) {
  return Arm64Walker(Arm64Format(cfg, opts, half));
}

// D8.2 TTBR selection: 0 for VA[63:48] == 0, 1 for 0xffff, -1 otherwise
// (of an effective VA, Arm64EffectiveVa(): TBI applied).
constexpr int Arm64Half(VirtAddr va) {
  const uint64_t top = va.value() >> 48;
  return top == 0 ? 0 : (top == 0xffff ? 1 : -1);
}

namespace internal {
// Translation fault for a VA between the halves, or EPDn for its half:
// reported at L0 (generic level 4) before any read.
inline bool Arm64PreWalkFault(const Arm64Stage1Config& cfg, VirtAddr va,
                              WalkResult* r) {
  const int half = Arm64Half(va);
  if (half < 0) {
    r->fault = FaultKind::kNonCanonical;
  } else if (half == 0 ? cfg.epd0 : cfg.epd1) {
    r->fault = FaultKind::kRootDisabled;
  } else {
    return false;
  }
  r->level = 4;
  return true;
}
}  // namespace internal

// Full walk from TTBR0 or TTBR1, chosen by VA[63:48]. A table base above
// the OA size is an Address size fault at L0.
template <WalkObserver Observer = NullObserver>
WalkResult WalkArm64(mem::PhysMem& mem, const Arm64Stage1Config& cfg, VirtAddr given_va,
                     AccessType acc, const WalkOptions& opts, Observer* obs = nullptr) {
  const VirtAddr va(Arm64EffectiveVa(cfg.tbi0, cfg.tbi1, given_va.value()));
  WalkResult r;
  if (internal::Arm64PreWalkFault(cfg, va, &r)) [[unlikely]] return r;
  const Arm64Format fmt(cfg, opts);
  const PhysAddr base = Arm64Half(va) == 0 ? cfg.ttbr0 : cfg.ttbr1;
  if ((base.value() & (fmt.oa_fault_mask() | BitMask(63, 50))) != 0)
      [[unlikely]] {
    r.fault = FaultKind::kAddressSize;
    r.level = 4;
    return r;
  }
  const WalkStart start{.table = base.AlignDown(kPageSize4K), .level = 4,
                        .cumulative = Perms{}};
  const int half = Arm64Half(va);
  return internal::RunWalkWith(
      mem, [&cfg, &opts, half] { return Arm64Format(cfg, opts, half); }, start, va, acc, opts, obs);
}

// Walk from a table at any level (a walk-cache hit). The half selection and
// EPDn still apply; the TTBRs are not used.
template <WalkObserver Observer = NullObserver>
WalkResult WalkArm64(mem::PhysMem& mem, const Arm64Stage1Config& cfg, const WalkStart& start,
                     VirtAddr given_va, AccessType acc, const WalkOptions& opts,
                     Observer* obs = nullptr) {
  const VirtAddr va(Arm64EffectiveVa(cfg.tbi0, cfg.tbi1, given_va.value()));
  WalkResult r;
  if (internal::Arm64PreWalkFault(cfg, va, &r)) [[unlikely]] return r;
  if (start.level > 4) [[unlikely]] {
    r.fault = FaultKind::kNotPresent;
    r.level = start.level;
    return r;
  }
  const int half = Arm64Half(va);
  return internal::RunWalkWith(
      mem, [&cfg, &opts, half] { return Arm64Format(cfg, opts, half); }, start, va, acc, opts, obs);
}

}  // namespace svaemu::arch

#endif  // SVAEMU_ARCH_ARM64_H_
