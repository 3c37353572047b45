// arm64 VMSAv8-64 stage 1 walker (Arm ARM D8): TTBR selection, descriptor
// types, permissions and hierarchical controls, AF and dirty state.
#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

constexpr SpaceId kSpace{1};
constexpr AccessType kEl0Read{};
constexpr AccessType kEl0Write{.write = true};
constexpr AccessType kEl0Exec{.exec = true};
constexpr AccessType kEl1Read{.user = false};
constexpr AccessType kEl1Write{.write = true, .user = false};
constexpr AccessType kEl1Exec{.exec = true, .user = false};

const VirtAddr kUserVa{0x0000ffff12345000};
const VirtAddr kKernelVa{0xffff000012345000};
const PhysAddr kPa{0x0000000089abc000};

class Arm64Walk : public ::testing::Test {
 protected:
  Arm64Walk()
      : user_(*PageTableBuilder::Create(alloc_, PtFormat::kArm64_4K48, kSpace,
                                        "test_ttbr0")),
        kernel_(*PageTableBuilder::Create(alloc_, PtFormat::kArm64_4K48,
                                          kSpace, "test_ttbr1")) {
    cfg_.ttbr0 = user_.root();
    cfg_.ttbr1 = kernel_.root();
    opts_.agent = Agent::Iommu(0);
    opts_.space = kSpace;
  }

  PageTableBuilder& TreeFor(VirtAddr va) {
    return (va.value() >> 63) ? kernel_ : user_;
  }
  WalkResult Walk(VirtAddr va, AccessType acc) {
    return WalkArm64(mem_, cfg_, va, acc, opts_);
  }
  void Map4K(VirtAddr va, PhysAddr pa, MapAttrs attrs = {}) {
    ASSERT_TRUE(TreeFor(va).Map(va, pa, kPageSize4K, kPageSize4K, attrs).ok());
  }
  uint64_t Entry(VirtAddr va, uint8_t level) {
    absl::StatusOr<uint64_t> e = TreeFor(va).ReadEntry(va, level);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.value_or(0);
  }
  void SetEntry(VirtAddr va, uint8_t level, uint64_t v) {
    ASSERT_TRUE(TreeFor(va).WriteEntry(va, level, v).ok());
  }
  void SetBitIn(VirtAddr va, uint8_t level, unsigned bit, bool on = true) {
    SetEntry(va, level, SetBit(Entry(va, level), bit, on));
  }

  sim::Simulation sim_;
  mem::PhysMem mem_{sim_};
  mem::FrameAllocator alloc_{mem_};
  PageTableBuilder user_;
  PageTableBuilder kernel_;
  Arm64Stage1Config cfg_;
  WalkOptions opts_;
};

TEST_F(Arm64Walk, LowHalfWalksTtbr0AndHighHalfWalksTtbr1) {
  Map4K(kUserVa, kPa);
  Map4K(kKernelVa, kPa + 0x100000, MapAttrs{.user = false});
  WalkResult u = Walk(kUserVa + 0x123, kEl0Read);
  ASSERT_TRUE(u.ok()) << u.fault;
  EXPECT_EQ(u.t.pa, kPa + 0x123);
  EXPECT_EQ(u.reads, 4u);
  WalkResult k = Walk(kKernelVa + 0x123, kEl1Read);
  ASSERT_TRUE(k.ok()) << k.fault;
  EXPECT_EQ(k.t.pa, kPa + 0x100123);
  // The two trees index the same VA[47:12]: the other half is unmapped.
  EXPECT_EQ(Walk(VirtAddr(0x0000000012345000), kEl1Read).fault,
            FaultKind::kNotPresent);
  EXPECT_EQ(sim_.violations().total(), 0);
}

TEST_F(Arm64Walk, AddressBetweenHalvesIsLevel0TranslationFaultWithoutReads) {
  WalkResult r = Walk(VirtAddr(0x0001000000000000), kEl1Read);
  EXPECT_EQ(r.fault, FaultKind::kNonCanonical);
  EXPECT_EQ(r.level, 4);  // L0
  EXPECT_EQ(r.reads, 0u);
  EXPECT_EQ(Walk(VirtAddr(0xfffe000000000000), kEl1Read).fault,
            FaultKind::kNonCanonical);
}

TEST_F(Arm64Walk, Epd0DisablesOnlyTheLowHalf) {
  Map4K(kUserVa, kPa);
  Map4K(kKernelVa, kPa, MapAttrs{.user = false});
  cfg_.epd0 = true;
  WalkResult r = Walk(kUserVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kRootDisabled);
  EXPECT_EQ(r.level, 4);
  EXPECT_EQ(r.reads, 0u);
  EXPECT_TRUE(Walk(kKernelVa, kEl1Read).ok());
}

TEST_F(Arm64Walk, Epd1DisablesOnlyTheHighHalf) {
  Map4K(kUserVa, kPa);
  Map4K(kKernelVa, kPa, MapAttrs{.user = false});
  cfg_.epd1 = true;
  WalkResult r = Walk(kKernelVa, kEl1Read);
  EXPECT_EQ(r.fault, FaultKind::kRootDisabled);
  EXPECT_EQ(r.reads, 0u);
  EXPECT_TRUE(Walk(kUserVa, kEl0Read).ok());
  // A walk-cache start does not bypass EPD1.
  EXPECT_EQ(WalkArm64(mem_, cfg_,
                      WalkStart{.table = kernel_.root(), .level = 4},
                      kKernelVa, kEl1Read, opts_)
                .fault,
            FaultKind::kRootDisabled);
}

TEST_F(Arm64Walk, Ap2MakesPageReadOnlyAtEveryLevel) {
  Map4K(kUserVa, kPa, MapAttrs{.write = false});
  EXPECT_EQ(Walk(kUserVa, kEl0Write).perm, PermFault::kWrite);
  EXPECT_EQ(Walk(kUserVa, kEl1Write).perm, PermFault::kWrite);
  EXPECT_TRUE(Walk(kUserVa, kEl0Read).ok());
}

TEST_F(Arm64Walk, Ap1ZeroDeniesEl0Access) {
  Map4K(kKernelVa, kPa, MapAttrs{.user = false});
  WalkResult r = Walk(kKernelVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kPermission);
  EXPECT_EQ(r.perm, PermFault::kUser);
  EXPECT_EQ(r.level, 1);
  EXPECT_TRUE(Walk(kKernelVa, kEl1Write).ok());
}

TEST_F(Arm64Walk, ApTable0DeniesEl0AccessBelow) {
  Map4K(kUserVa, kPa);
  SetBitIn(kUserVa, 3, Arm64Desc::kApTable0);  // L1 table descriptor
  EXPECT_EQ(Walk(kUserVa, kEl0Read).perm, PermFault::kUser);
  WalkResult r = Walk(kUserVa, kEl1Read);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.t.perms.user);
}

TEST_F(Arm64Walk, ApTable1DeniesWritesBelow) {
  Map4K(kUserVa, kPa);
  SetBitIn(kUserVa, 4, Arm64Desc::kApTable1);  // L0 table descriptor
  EXPECT_EQ(Walk(kUserVa, kEl0Write).perm, PermFault::kWrite);
  EXPECT_EQ(Walk(kUserVa, kEl1Write).perm, PermFault::kWrite);
  EXPECT_TRUE(Walk(kUserVa, kEl0Read).ok());
}

// FEAT_HPDS (SMMUv3 CD.HAD0/HAD1): the hierarchical controls of one half
// are ignored; the other half keeps them.
TEST_F(Arm64Walk, HierarchicalPermissionsDisabledPerHalf) {
  Map4K(kUserVa, kPa);
  Map4K(kKernelVa, kPa);
  SetBitIn(kUserVa, 4, Arm64Desc::kApTable1);  // no write below
  SetBitIn(kUserVa, 3, Arm64Desc::kApTable0);  // no EL0 below
  SetBitIn(kKernelVa, 4, Arm64Desc::kApTable1);
  cfg_.hpd0 = true;
  EXPECT_TRUE(Walk(kUserVa, kEl0Write).ok());
  EXPECT_EQ(Walk(kKernelVa, kEl1Write).perm, PermFault::kWrite);
  cfg_.hpd0 = false;
  cfg_.hpd1 = true;
  EXPECT_EQ(Walk(kUserVa, kEl0Read).perm, PermFault::kUser);
  EXPECT_TRUE(Walk(kKernelVa, kEl1Write).ok());
  // The prepared walker of each half narrows as the walk does.
  const Arm64Walker w1 = MakeArm64Walker(cfg_, opts_, 1);
  const Arm64Walker w0 = MakeArm64Walker(cfg_, opts_, 0);
  const uint64_t aptable1 = 1ull << Arm64Desc::kApTable1;
  EXPECT_EQ(w1.NarrowIndex(kPermIndexAll, aptable1, aptable1), kPermIndexAll);
  EXPECT_NE(w0.NarrowIndex(kPermIndexAll, aptable1, aptable1), kPermIndexAll);
}

TEST_F(Arm64Walk, UxnDeniesEl0Execute) {
  Map4K(kUserVa, kPa, MapAttrs{.exec = false});
  EXPECT_EQ(Walk(kUserVa, kEl0Exec).perm, PermFault::kExec);
  Map4K(kUserVa + kPageSize4K, kPa, MapAttrs{.write = false});
  EXPECT_TRUE(Walk(kUserVa + kPageSize4K, kEl0Exec).ok());
}

TEST_F(Arm64Walk, UxnTableDeniesEl0ExecuteBelow) {
  Map4K(kUserVa, kPa, MapAttrs{.write = false});  // UXN=0
  SetBitIn(kUserVa, 2, Arm64Desc::kUxnTable);
  EXPECT_EQ(Walk(kUserVa, kEl0Exec).perm, PermFault::kExec);
  EXPECT_TRUE(Walk(kUserVa, kEl0Read).ok());
}

TEST_F(Arm64Walk, PxnDeniesEl1Execute) {
  Map4K(kKernelVa, kPa, MapAttrs{.write = false, .user = false, .exec = false});
  EXPECT_EQ(Walk(kKernelVa, kEl1Exec).perm, PermFault::kExec);
  const VirtAddr text = kKernelVa + kPageSize4K;
  Map4K(text, kPa, MapAttrs{.write = false, .user = false});
  EXPECT_TRUE(Walk(text, kEl1Exec).ok());
}

TEST_F(Arm64Walk, PxnTableDeniesEl1ExecuteBelow) {
  Map4K(kKernelVa, kPa, MapAttrs{.write = false, .user = false});  // PXN=0
  SetBitIn(kKernelVa, 4, Arm64Desc::kPxnTable);
  EXPECT_EQ(Walk(kKernelVa, kEl1Exec).perm, PermFault::kExec);
}

TEST_F(Arm64Walk, El0WritablePageIsNeverEl1Executable) {
  Map4K(kUserVa, kPa);                            // AP[2:1] = 0b01
  SetBitIn(kUserVa, 1, Arm64Desc::kPxn, false);   // PXN=0 explicitly
  WalkResult r = Walk(kUserVa, kEl1Exec);
  EXPECT_EQ(r.perm, PermFault::kExec);
  // Read-only at EL0 (AP[2:1] = 0b11): PXN=0 now means executable.
  SetBitIn(kUserVa, 1, Arm64Desc::kAp2);
  EXPECT_TRUE(Walk(kUserVa, kEl1Exec).ok());
}

TEST_F(Arm64Walk, AccessFlagZeroFaultsWithoutHardwareUpdate) {
  Map4K(kUserVa, kPa, MapAttrs{.accessed = false});
  WalkResult r = Walk(kUserVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kAccessFlag);
  EXPECT_EQ(r.level, 1);
  EXPECT_EQ(r.ad_updates, 0u);
}

// FEAT_AFFD (SMMUv3 CD.AFFD): AF = 0 is used as AF = 1, nothing written.
TEST_F(Arm64Walk, AccessFlagFaultDisabledUsesTheLeafUnchanged) {
  Map4K(kUserVa, kPa, MapAttrs{.accessed = false});
  const uint64_t leaf = Entry(kUserVa, 1);
  cfg_.affd = true;
  WalkResult r = Walk(kUserVa, kEl0Read);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.t.pa, kPa);
  EXPECT_EQ(r.ad_updates, 0u);
  EXPECT_EQ(Entry(kUserVa, 1), leaf);
}

TEST_F(Arm64Walk, AccessFlagFaultComesBeforePermissionFault) {
  Map4K(kUserVa, kPa, MapAttrs{.write = false, .accessed = false});
  EXPECT_EQ(Walk(kUserVa, kEl0Write).fault, FaultKind::kAccessFlag);
}

TEST_F(Arm64Walk, HardwareAccessFlagUpdateSetsAfInLeafOnly) {
  Map4K(kUserVa, kPa, MapAttrs{.accessed = false});
  cfg_.ha = true;
  WalkResult r = Walk(kUserVa, kEl0Read);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.ad_updates, 1u);
  EXPECT_TRUE(Arm64Desc{Entry(kUserVa, 1)}.af());
  EXPECT_TRUE(Arm64Desc{r.t.leaf_entry}.af());
  EXPECT_EQ(Walk(kUserVa, kEl0Read).ad_updates, 0u);
}

TEST_F(Arm64Walk, HardwareAccessFlagNotSetOnPermissionFault) {
  Map4K(kUserVa, kPa, MapAttrs{.write = false, .accessed = false});
  cfg_.ha = true;
  WalkResult r = Walk(kUserVa, kEl0Write);
  EXPECT_EQ(r.perm, PermFault::kWrite);
  EXPECT_EQ(r.ad_updates, 0u);
  EXPECT_FALSE(Arm64Desc{Entry(kUserVa, 1)}.af());
}

class Arm64Dirty : public Arm64Walk {
 protected:
  void SetUp() override {
    // Linux's "writable, clean": AP[2]=1 with DBM=1.
    Map4K(kUserVa, kPa, MapAttrs{.write = false});
    SetBitIn(kUserVa, 1, Arm64Desc::kDbm);
  }
};

TEST_F(Arm64Dirty, WriteWithHdClearsAp2InsteadOfFaulting) {
  cfg_.ha = true;
  cfg_.hd = true;
  WalkResult r = Walk(kUserVa, kEl0Write);
  ASSERT_TRUE(r.ok()) << r.fault << "/" << r.perm;
  EXPECT_EQ(r.ad_updates, 1u);
  EXPECT_FALSE(Arm64Desc{Entry(kUserVa, 1)}.ap2());
  EXPECT_TRUE(r.t.perms.write);
  EXPECT_FALSE(r.t.perms.exec_priv);  // now EL0-writable
}

// A leaf that changes between every read and the compare-exchange (a
// software bit flipped by the observer): the write never proceeds on a
// page left clean (IHI 0070 3.13.3: AP[2] is cleared in memory, then the
// write is allowed).
struct LeafBitFlipper {
  mem::PhysMem* mem;
  void OnRead(const LevelRead& r) {
    if (r.level == 1) {
      mem->Write64(r.entry_pa, r.entry ^ (1ull << 56), mem::Access::Cpu(Purpose::kPageTableUpdate));
    }
  }
};

TEST_F(Arm64Dirty, DirtyUpdateThatKeepsLosingRacesFailsTheWrite) {
  cfg_.ha = true;
  cfg_.hd = true;
  LeafBitFlipper flipper{.mem = &mem_};
  const WalkResult r = WalkArm64(mem_, cfg_, kUserVa, kEl0Write, opts_, &flipper);
  EXPECT_EQ(r.fault, FaultKind::kUpdateFailed);
  EXPECT_EQ(r.level, 1);
  EXPECT_TRUE(Arm64Desc{Entry(kUserVa, 1)}.ap2()) << "still clean";
}

TEST_F(Arm64Dirty, ReadWithHdLeavesPageClean) {
  cfg_.ha = true;
  cfg_.hd = true;
  WalkResult r = Walk(kUserVa, kEl0Read);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ad_updates, 0u);
  EXPECT_TRUE(Arm64Desc{Entry(kUserVa, 1)}.ap2());
}

TEST_F(Arm64Dirty, WriteWithoutHdIsPermissionFault) {
  cfg_.ha = true;
  WalkResult r = Walk(kUserVa, kEl0Write);
  EXPECT_EQ(r.perm, PermFault::kWrite);
  EXPECT_TRUE(Arm64Desc{Entry(kUserVa, 1)}.ap2());
}

TEST_F(Arm64Dirty, ApTable1StillFaultsWithHd) {
  cfg_.ha = true;
  cfg_.hd = true;
  SetBitIn(kUserVa, 2, Arm64Desc::kApTable1);
  EXPECT_EQ(Walk(kUserVa, kEl0Write).perm, PermFault::kWrite);
  EXPECT_TRUE(Arm64Desc{Entry(kUserVa, 1)}.ap2());
}

TEST_F(Arm64Walk, BlocksAtL1AndL2Translate) {
  const VirtAddr gig(0x0000004000000000);
  const VirtAddr two_meg(0x0000000040200000);
  ASSERT_TRUE(
      user_.Map(gig, PhysAddr(0x40000000), kPageSize1G, kPageSize1G, {}).ok());
  ASSERT_TRUE(user_.Map(two_meg, PhysAddr(0x80200000), kPageSize2M,
                        kPageSize2M, {})
                  .ok());
  WalkResult g = Walk(gig + 0x12345678, kEl0Read);
  ASSERT_TRUE(g.ok()) << g.fault;
  EXPECT_EQ(g.t.pa, PhysAddr(0x52345678));
  EXPECT_EQ(g.t.leaf_level, 3);
  EXPECT_EQ(g.t.page_shift, 30);
  EXPECT_EQ(g.reads, 2u);
  WalkResult m = Walk(two_meg + 0x1fffff, kEl0Read);
  ASSERT_TRUE(m.ok()) << m.fault;
  EXPECT_EQ(m.t.pa, PhysAddr(0x803fffff));
  EXPECT_EQ(m.t.leaf_level, 2);
}

TEST_F(Arm64Walk, BlockDescriptorAtL0IsTranslationFault) {
  Map4K(kUserVa, kPa);
  SetEntry(kUserVa, 4, (Entry(kUserVa, 4) & ~3ull) | 1);
  WalkResult r = Walk(kUserVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kNotPresent);
  EXPECT_EQ(r.level, 4);
  EXPECT_EQ(r.reads, 1u);
}

TEST_F(Arm64Walk, Type01AtL3IsTranslationFault) {
  Map4K(kUserVa, kPa);
  SetEntry(kUserVa, 1, (Entry(kUserVa, 1) & ~3ull) | 1);
  WalkResult r = Walk(kUserVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kNotPresent);
  EXPECT_EQ(r.level, 1);
}

TEST_F(Arm64Walk, InvalidDescriptorIsTranslationFaultAtItsLevel) {
  Map4K(kUserVa, kPa);
  SetBitIn(kUserVa, 2, Arm64Desc::kValid, false);
  WalkResult r = Walk(kUserVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kNotPresent);
  EXPECT_EQ(r.level, 2);
  EXPECT_EQ(r.reads, 3u);
}

// 4 KiB granule, DS = 0: the output address is desc[47:12]; desc[49:48]
// are RES0 (OA[49:48] only with FEAT_LPA2, not modelled), outside the
// address, so they neither fault nor reach the translation (D8.3).
TEST_F(Arm64Walk, DescriptorBits49To48AreNotAddressBits) {
  Map4K(kUserVa, kPa);
  SetBitIn(kUserVa, 1, 48);
  WalkResult r = Walk(kUserVa, kEl0Read);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, kPa);
  SetBitIn(kUserVa, 1, 48, false);
  SetBitIn(kUserVa, 3, 49);  // in a table descriptor
  r = Walk(kUserVa, kEl0Read);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, kPa);
}

TEST_F(Arm64Walk, SmallerOutputAddressSizeFaultsAboveIt) {
  Map4K(kUserVa, PhysAddr(1ull << 42));
  opts_.max_phys_bits = 40;
  EXPECT_EQ(Walk(kUserVa, kEl0Read).fault, FaultKind::kAddressSize);
  opts_.max_phys_bits = 44;
  EXPECT_TRUE(Walk(kUserVa, kEl0Read).ok());
}

TEST_F(Arm64Walk, WalkFromLevel2StartReadsOnlyTwoEntries) {
  Map4K(kUserVa, kPa);
  const PhysAddr l2 = Arm64Desc{Entry(kUserVa, 3)}.table_address();
  WalkResult r = WalkArm64(mem_, cfg_, WalkStart{.table = l2, .level = 2},
                           kUserVa + 8, kEl0Read, opts_);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.reads, 2u);
  EXPECT_EQ(r.t.pa, kPa + 8);
  WalkResult s = WalkArm64(
      mem_, cfg_,
      WalkStart{.table = l2, .level = 2, .cumulative = Perms{.write = false}},
      kUserVa, kEl0Write, opts_);
  EXPECT_EQ(s.perm, PermFault::kWrite);
}

TEST_F(Arm64Walk, GlobalIsNotNg) {
  Map4K(kKernelVa, kPa, MapAttrs{.user = false, .global = true});
  Map4K(kUserVa, kPa);
  EXPECT_TRUE(Walk(kKernelVa, kEl1Read).t.global);
  EXPECT_FALSE(Walk(kUserVa, kEl0Read).t.global);
}

TEST_F(Arm64Walk, TableBaseBeyondPhysMemIsBusError) {
  Map4K(kUserVa, kPa);
  SetEntry(kUserVa, 3,
           Arm64Desc::Table(PhysAddr(0x0000f00000000000)).raw);  // > 64 GiB
  WalkResult r = Walk(kUserVa, kEl0Read);
  EXPECT_EQ(r.fault, FaultKind::kBusError);
  EXPECT_EQ(r.level, 2);
}

// PAN: a privileged data access to an EL0-accessible page faults; to a
// kernel page it does not; EL0 accesses and privileged execution are not
// affected. The prepared walker's fast acceptance leaves PAN to Check().
TEST_F(Arm64Walk, PanFaultsPrivilegedDataAccessToEl0Pages) {
  Map4K(kUserVa, kPa);
  Map4K(kKernelVa, kPa, MapAttrs{.user = false});
  ASSERT_TRUE(Walk(kUserVa, kEl1Read).ok());
  cfg_.pan = true;
  EXPECT_EQ(Walk(kUserVa, kEl1Read).perm, PermFault::kPan);
  EXPECT_EQ(Walk(kUserVa, kEl1Write).perm, PermFault::kPan);
  EXPECT_TRUE(Walk(kUserVa, kEl0Write).ok());
  EXPECT_TRUE(Walk(kKernelVa, kEl1Write).ok());
  // APTable[0] removes EL0 access below: no longer an EL0 location.
  SetBitIn(kUserVa, 2, Arm64Desc::kApTable0);
  EXPECT_TRUE(Walk(kUserVa, kEl1Read).ok());
  const Arm64Walker w = MakeArm64Walker(cfg_, opts_, 0);
  uint64_t entries[5];
  FastTranslation t;
  SetBitIn(kUserVa, 2, Arm64Desc::kApTable0, false);
  EXPECT_FALSE(w.TryWalk(mem_, user_.root().value(), 4, kPermIndexAll, kUserVa, kEl1Read, kSpace,
                         entries, &t));
}

TEST_F(Arm64Walk, PanLeavesPrivilegedExecutionAlone) {
  Map4K(kKernelVa, kPa, MapAttrs{.write = false, .user = false});
  cfg_.pan = true;
  EXPECT_TRUE(Walk(kKernelVa, kEl1Exec).ok());
}

// WXN: a page writable at the accessing level is execute-never there. An
// EL0-read-only page stays executable at EL0 even when EL1 may write it.
TEST_F(Arm64Walk, WxnMakesWritablePagesExecuteNever) {
  Map4K(kKernelVa, kPa, MapAttrs{.user = false});  // EL1 RWX
  Map4K(kKernelVa + kPageSize4K, kPa, MapAttrs{.write = false, .user = false});
  Map4K(kUserVa, kPa);                                          // EL0 RWX
  Map4K(kUserVa + kPageSize4K, kPa, MapAttrs{.write = false});  // EL0 R-X
  ASSERT_TRUE(Walk(kKernelVa, kEl1Exec).ok());
  ASSERT_TRUE(Walk(kUserVa, kEl0Exec).ok());
  cfg_.wxn = true;
  EXPECT_EQ(Walk(kKernelVa, kEl1Exec).perm, PermFault::kExec);
  EXPECT_TRUE(Walk(kKernelVa + kPageSize4K, kEl1Exec).ok());
  EXPECT_EQ(Walk(kUserVa, kEl0Exec).perm, PermFault::kExec);
  EXPECT_TRUE(Walk(kUserVa + kPageSize4K, kEl0Exec).ok());
  // Data accesses are not affected.
  EXPECT_TRUE(Walk(kKernelVa, kEl1Write).ok());
  // With the write right taken away above (APTable[1]), the page is not
  // writable at any level, so executable again.
  SetBitIn(kUserVa, 2, Arm64Desc::kApTable1);
  EXPECT_TRUE(Walk(kUserVa, kEl0Exec).ok());
}

// TBI (D8.8; SMMUv3 CD.TBI0/TBI1): VA[55] selects the half; with TBI for
// it, VA[63:56] are ignored; without, a tagged VA is a translation fault.
TEST_F(Arm64Walk, TopByteIgnoredPerHalf) {
  Map4K(kUserVa, kPa);
  Map4K(kKernelVa, kPa + 0x100000, MapAttrs{.user = false});
  const VirtAddr tagged_user(0x5a00000000000000 | kUserVa.value());
  const VirtAddr tagged_kernel(0x5aff000000000000 | (kKernelVa.value() & BitMask(55, 0)));
  EXPECT_EQ(Walk(tagged_user, kEl0Read).fault, FaultKind::kNonCanonical);
  cfg_.tbi0 = true;
  const WalkResult u = Walk(tagged_user + 0x10, kEl0Read);
  ASSERT_TRUE(u.ok()) << u.fault;
  EXPECT_EQ(u.t.pa, kPa + 0x10);
  EXPECT_EQ(Walk(tagged_kernel, kEl1Read).fault, FaultKind::kNonCanonical);
  cfg_.tbi1 = true;
  const WalkResult k = Walk(tagged_kernel, kEl1Read);
  ASSERT_TRUE(k.ok()) << k.fault;
  EXPECT_EQ(k.t.pa, kPa + 0x100000);
  // Bits [55:48] must still agree with VA[55].
  EXPECT_EQ(Walk(VirtAddr(0x5a01000012345000), kEl0Read).fault, FaultKind::kNonCanonical);
  EXPECT_EQ(Arm64EffectiveVa(true, false, 0xab80000000000000), 0xab80000000000000u);
  EXPECT_EQ(Arm64EffectiveVa(false, true, 0xab80000000000000), 0xff80000000000000u);
}

}  // namespace
}  // namespace svaemu::arch
