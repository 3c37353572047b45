// x86-64 walker: translation, rights, faults and A/D updates (Intel SDM
// Vol. 3A 4.5-4.8), on page tables built in emulated memory.
#include <vector>

#include "arch/walk_testutil.h"
#include "gtest/gtest.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

constexpr SpaceId kSpace{1};
constexpr AccessType kUserRead{};
constexpr AccessType kUserWrite{.write = true};
constexpr AccessType kUserExec{.exec = true};
constexpr AccessType kSupRead{.user = false};
constexpr AccessType kSupWrite{.write = true, .user = false};
constexpr AccessType kSupExec{.exec = true, .user = false};

class X86Walk : public ::testing::Test {
 protected:
  explicit X86Walk(PtFormat f = PtFormat::kX86_4Level)
      : pt_(*PageTableBuilder::Create(alloc_, f, kSpace, "test_pgd")) {
    opts_.agent = Agent::Iommu(0);
    opts_.space = kSpace;
  }

  X86PagingMode mode() const {
    return X86PagingMode{.levels = pt_.top_level()};
  }
  WalkResult Walk(VirtAddr va, AccessType acc) {
    return WalkX86(mem_, pt_.root(), mode(), va, acc, opts_);
  }
  uint64_t Entry(VirtAddr va, uint8_t level) {
    absl::StatusOr<uint64_t> e = pt_.ReadEntry(va, level);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.value_or(0);
  }
  void SetEntry(VirtAddr va, uint8_t level, uint64_t v) {
    ASSERT_TRUE(pt_.WriteEntry(va, level, v).ok());
  }
  void ClearBit(VirtAddr va, uint8_t level, unsigned bit) {
    SetEntry(va, level, Entry(va, level) & ~(1ull << bit));
  }
  void SetBitIn(VirtAddr va, uint8_t level, unsigned bit) {
    SetEntry(va, level, Entry(va, level) | (1ull << bit));
  }
  // A 4 KiB user page at va with `attrs`.
  void Map4K(VirtAddr va, PhysAddr pa, MapAttrs attrs = {}) {
    ASSERT_TRUE(pt_.Map(va, pa, kPageSize4K, kPageSize4K, attrs).ok());
  }

  sim::Simulation sim_;
  mem::PhysMem mem_{sim_};
  mem::FrameAllocator alloc_{mem_};
  PageTableBuilder pt_;
  WalkOptions opts_;
};

class X86Walk5 : public X86Walk {
 protected:
  X86Walk5() : X86Walk(PtFormat::kX86_5Level) {}
};

const VirtAddr kVa{0x00007f1234567000};
const PhysAddr kPa{0x0000000123456000};

TEST_F(X86Walk, FourLevelWalkTranslates4KPage) {
  Map4K(kVa, kPa);
  WalkResult r = Walk(kVa + 0x9ab, kUserRead);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, kPa + 0x9ab);
  EXPECT_EQ(r.t.page_shift, 12);
  EXPECT_EQ(r.t.leaf_level, 1);
  EXPECT_EQ(r.reads, 4u);
  EXPECT_EQ(r.ad_updates, 0u);  // builder pre-set A everywhere
  EXPECT_FALSE(r.t.global);
  EXPECT_TRUE(sim_.violations().violations().empty());
}

TEST_F(X86Walk5, FiveLevelWalkTranslates57BitAddress) {
  const VirtAddr va(0x00ff123456789000);  // bits 55:48 in use, bit 56 clear
  Map4K(va, kPa);
  WalkResult r = Walk(va + 0x10, kUserRead);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, kPa + 0x10);
  EXPECT_EQ(r.reads, 5u);
  // The same VA is not canonical for 4-level paging.
  WalkResult r4 = WalkX86(mem_, pt_.root(), X86PagingMode{.levels = 4}, va,
                          kUserRead, opts_);
  EXPECT_EQ(r4.fault, FaultKind::kNonCanonical);
  EXPECT_EQ(r4.reads, 0u);
}

TEST_F(X86Walk5, FiveLevelUpperHalfNeedsBits63To56Equal) {
  const VirtAddr va(0xff00000000001000);
  Map4K(va, kPa);
  EXPECT_TRUE(Walk(va, kSupRead).ok());
  EXPECT_EQ(Walk(VirtAddr(0xfe00000000001000), kSupRead).fault,
            FaultKind::kNonCanonical);
}

TEST_F(X86Walk, TwoMegLeafPassesLow21OffsetBits) {
  const VirtAddr va(0x40000000);
  const PhysAddr pa(0x80000000);
  ASSERT_TRUE(pt_.Map(va, pa, kPageSize2M, kPageSize2M, {}).ok());
  WalkResult r = Walk(va + 0x1abcde, kUserRead);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, pa + 0x1abcde);
  EXPECT_EQ(r.t.page_shift, 21);
  EXPECT_EQ(r.t.leaf_level, 2);
  EXPECT_EQ(r.reads, 3u);
}

TEST_F(X86Walk, OneGigLeafPassesLow30OffsetBits) {
  const VirtAddr va(0x0000004000000000);
  const PhysAddr pa(0x0000000c0000000);
  ASSERT_TRUE(pt_.Map(va, pa, kPageSize1G, kPageSize1G, {}).ok());
  WalkResult r = Walk(va + 0x3abcdef1, kUserRead);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, pa + 0x3abcdef1);
  EXPECT_EQ(r.t.page_shift, 30);
  EXPECT_EQ(r.t.leaf_level, 3);
  EXPECT_EQ(r.reads, 2u);
}

TEST_F(X86Walk, SupervisorUpperLevelMakesUserLeafSupervisorOnly) {
  Map4K(kVa, kPa);  // leaf U/S=1
  ClearBit(kVa, 3, X86Entry::kUs);  // PDPTE U/S=0
  WalkResult r = Walk(kVa, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kPermission);
  EXPECT_EQ(r.perm, PermFault::kUser);
  EXPECT_EQ(r.level, 1);
  WalkResult s = Walk(kVa, kSupRead);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s.t.perms.user);
}

TEST_F(X86Walk, ReadOnlyUpperLevelMakesWritableLeafReadOnly) {
  Map4K(kVa, kPa);  // leaf R/W=1
  ClearBit(kVa, 2, X86Entry::kRw);  // PDE R/W=0
  WalkResult w = Walk(kVa, kUserWrite);
  EXPECT_EQ(w.fault, FaultKind::kPermission);
  EXPECT_EQ(w.perm, PermFault::kWrite);
  WalkResult r = Walk(kVa, kUserRead);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.t.perms.write);
}

TEST_F(X86Walk, SupervisorWriteToReadOnlyPageFaultsOnlyWithWriteProtect) {
  Map4K(kVa, kPa, MapAttrs{.write = false});
  opts_.write_protect = true;
  WalkResult wp = Walk(kVa, kSupWrite);
  EXPECT_EQ(wp.fault, FaultKind::kPermission);
  EXPECT_EQ(wp.perm, PermFault::kWrite);
  opts_.write_protect = false;
  EXPECT_TRUE(Walk(kVa, kSupWrite).ok());
  // A user write faults whatever WP says.
  EXPECT_EQ(Walk(kVa, kUserWrite).perm, PermFault::kWrite);
}

TEST_F(X86Walk, UserAccessToSupervisorPageFaults) {
  Map4K(kVa, kPa, MapAttrs{.user = false});
  EXPECT_EQ(Walk(kVa, kUserRead).perm, PermFault::kUser);
  EXPECT_EQ(Walk(kVa, kUserExec).perm, PermFault::kUser);
  EXPECT_TRUE(Walk(kVa, kSupRead).ok());
}

TEST_F(X86Walk, ExecuteOfXdPageFaults) {
  Map4K(kVa, kPa, MapAttrs{.exec = false});
  EXPECT_EQ(Walk(kVa, kUserExec).perm, PermFault::kExec);
  EXPECT_EQ(Walk(kVa, kSupExec).perm, PermFault::kExec);
  EXPECT_TRUE(Walk(kVa, kUserRead).ok());
}

TEST_F(X86Walk, XdInUpperLevelDisablesExecuteBelow) {
  Map4K(kVa, kPa);  // leaf executable
  SetBitIn(kVa, 4, X86Entry::kXd);
  EXPECT_EQ(Walk(kVa, kUserExec).perm, PermFault::kExec);
}

TEST_F(X86Walk, XdIsReservedBitWithoutNxe) {
  Map4K(kVa, kPa, MapAttrs{.exec = false});
  opts_.nxe = false;
  WalkResult r = Walk(kVa, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kReservedBit);
  EXPECT_EQ(r.level, 1);
  // Without XD anywhere, everything is executable when NXE=0.
  const VirtAddr other = kVa + kPageSize4K;
  Map4K(other, kPa);
  EXPECT_TRUE(Walk(other, kUserExec).ok());
}

TEST_F(X86Walk, NonCanonicalAddressFaultsBeforeAnyRead) {
  WalkResult r = Walk(VirtAddr(0x0000800000000000), kSupRead);
  EXPECT_EQ(r.fault, FaultKind::kNonCanonical);
  EXPECT_EQ(r.reads, 0u);
  EXPECT_EQ(Walk(VirtAddr(0xffff7fffffffffff), kSupRead).fault,
            FaultKind::kNonCanonical);
}

TEST_F(X86Walk, NotPresentAtEachLevelReportsThatLevel) {
  for (uint8_t level = 4; level >= 1; --level) {
    SCOPED_TRACE(level);
    const VirtAddr va = VirtAddr(0x1000) + level * (kPageSize1G * 512);  // own PML4 slot
    Map4K(va, kPa);
    ClearBit(va, level, X86Entry::kP);
    WalkResult r = Walk(va, kUserRead);
    EXPECT_EQ(r.fault, FaultKind::kNotPresent);
    EXPECT_EQ(r.level, level);
    EXPECT_EQ(r.reads, 5u - level);
  }
}

TEST_F(X86Walk, PsInPml4IsReservedBit) {
  Map4K(kVa, kPa);
  SetBitIn(kVa, 4, X86Entry::kPs);
  WalkResult r = Walk(kVa, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kReservedBit);
  EXPECT_EQ(r.level, 4);
  EXPECT_EQ(r.reads, 1u);
}

TEST_F(X86Walk5, PsInPml5IsReservedBit) {
  Map4K(kVa, kPa);
  SetBitIn(kVa, 5, X86Entry::kPs);
  WalkResult r = Walk(kVa, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kReservedBit);
  EXPECT_EQ(r.level, 5);
}

TEST_F(X86Walk, AddressBitsAboveMaxPhysAddrAreReserved) {
  Map4K(kVa, PhysAddr(1ull << 45));
  opts_.max_phys_bits = 46;
  EXPECT_TRUE(Walk(kVa, kUserRead).ok());
  opts_.max_phys_bits = 40;
  WalkResult r = Walk(kVa, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kReservedBit);
  EXPECT_EQ(r.level, 1);
  // A table pointer above MAXPHYADDR is caught at its own level.
  opts_.max_phys_bits = 40;
  const VirtAddr other(0x0000100000000000);
  Map4K(other, kPa);
  SetBitIn(other, 3, 44);
  EXPECT_EQ(Walk(other, kUserRead).level, 3);
}

TEST_F(X86Walk, TwoMegLeafLowReservedBitsFaultButPatDoesNot) {
  const VirtAddr va(0x40000000);
  ASSERT_TRUE(pt_.Map(va, PhysAddr(0x80000000), kPageSize2M, kPageSize2M, {})
                  .ok());
  SetBitIn(va, 2, X86Entry::kPatLarge);  // PAT: fine, not an address bit
  WalkResult pat = Walk(va + 0x1000, kUserRead);
  ASSERT_TRUE(pat.ok()) << pat.fault;
  EXPECT_EQ(pat.t.pa, PhysAddr(0x80001000));
  SetBitIn(va, 2, 13);
  WalkResult r = Walk(va, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kReservedBit);
  EXPECT_EQ(r.level, 2);
}

TEST_F(X86Walk, OneGigLeafBits29To13AreReserved) {
  const VirtAddr va(0x0000004000000000);
  ASSERT_TRUE(
      pt_.Map(va, PhysAddr(0xc0000000), kPageSize1G, kPageSize1G, {}).ok());
  SetBitIn(va, 3, 29);
  WalkResult r = Walk(va, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kReservedBit);
  EXPECT_EQ(r.level, 3);
}

// Clears A in every entry of kVa's path and D in the leaf.
class X86WalkAd : public X86Walk {
 protected:
  void SetUp() override {
    Map4K(kVa, kPa, MapAttrs{.accessed = false});
    for (uint8_t l = 4; l >= 2; --l) ClearBit(kVa, l, X86Entry::kA);
  }
  bool A(uint8_t level) { return X86Entry{Entry(kVa, level)}.accessed(); }
  bool D(uint8_t level) { return Bit(Entry(kVa, level), X86Entry::kD); }
};

TEST_F(X86WalkAd, SuccessfulReadSetsAccessedInEveryEntryAndNoDirty) {
  WalkResult r = Walk(kVa, kUserRead);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ad_updates, 4u);  // one compare-exchange per level
  for (uint8_t l = 4; l >= 1; --l) EXPECT_TRUE(A(l)) << int(l);
  for (uint8_t l = 4; l >= 1; --l) EXPECT_FALSE(D(l)) << int(l);
  EXPECT_TRUE(X86Entry{r.t.leaf_entry}.accessed());
  // Second walk: nothing left to update.
  EXPECT_EQ(Walk(kVa, kUserRead).ad_updates, 0u);
}

TEST_F(X86WalkAd, WriteSetsDirtyOnlyInLeaf) {
  WalkResult r = Walk(kVa, kUserWrite);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ad_updates, 4u);  // A+D of the leaf go in one exchange
  EXPECT_TRUE(D(1));
  for (uint8_t l = 4; l >= 2; --l) EXPECT_FALSE(D(l)) << int(l);
  EXPECT_TRUE(X86Entry{r.t.leaf_entry}.dirty());
}

// SDM 4.8: the table entries a walk used get A even when the access then
// faults; the leaf of a faulting access gets neither A nor D.
TEST_F(X86WalkAd, FaultingTranslationSetsAOnTheTablesItUsedButNotOnTheLeaf) {
  ClearBit(kVa, 1, X86Entry::kRw);
  WalkResult r = Walk(kVa, kUserWrite);
  EXPECT_EQ(r.perm, PermFault::kWrite);
  EXPECT_EQ(r.ad_updates, 3u);  // PML4E, PDPTE, PDE
  for (uint8_t l = 4; l >= 2; --l) EXPECT_TRUE(A(l)) << int(l);
  EXPECT_FALSE(A(1));
  EXPECT_FALSE(D(1));
}

TEST_F(X86WalkAd, NotPresentFaultSetsAOnlyAboveTheFaultingEntry) {
  ClearBit(kVa, 2, X86Entry::kP);  // the PDE
  WalkResult r = Walk(kVa, kUserWrite);
  EXPECT_EQ(r.fault, FaultKind::kNotPresent);
  EXPECT_EQ(r.level, 2);
  EXPECT_EQ(r.ad_updates, 2u);  // PML4E, PDPTE
  EXPECT_TRUE(A(4));
  EXPECT_TRUE(A(3));
  EXPECT_FALSE(A(2));
}

TEST_F(X86WalkAd, FaultingWalkWithAccessedOffUpdatesNothing) {
  opts_.set_accessed = false;
  ClearBit(kVa, 1, X86Entry::kRw);
  WalkResult r = Walk(kVa, kUserWrite);
  EXPECT_EQ(r.perm, PermFault::kWrite);
  EXPECT_EQ(r.ad_updates, 0u);
  for (uint8_t l = 4; l >= 1; --l) EXPECT_FALSE(A(l)) << int(l);
}

TEST_F(X86WalkAd, OptionsOffUpdateNothing) {
  opts_.set_accessed = false;
  opts_.set_dirty = false;
  WalkResult r = Walk(kVa, kUserWrite);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ad_updates, 0u);
  EXPECT_FALSE(A(1));
  EXPECT_FALSE(D(1));
}

TEST_F(X86WalkAd, DirtyOnlyOptionSetsDirtyButNotAccessed) {
  opts_.set_accessed = false;
  WalkResult r = Walk(kVa, kUserWrite);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ad_updates, 1u);
  EXPECT_TRUE(D(1));
  EXPECT_FALSE(A(1));
}

// Writes a software-available bit (9) into the leaf right after the walker
// read it, so the walker's compare-exchange on the leaf sees a new value.
struct LeafRacer {
  mem::PhysMem* mem;
  int races_left;
  void OnRead(const LevelRead& r) {
    if (r.level != 1 || races_left == 0) return;
    --races_left;
    mem->Write64(r.entry_pa, r.entry ^ (1ull << 9),
                 mem::Access::Cpu(Purpose::kPageTableUpdate));
  }
};

TEST_F(X86WalkAd, EntryChangedBeforeCompareExchangeRestartsWalk) {
  LeafRacer racer{.mem = &mem_, .races_left = 1};
  WalkResult r = WalkX86(mem_, pt_.root(), mode(), kVa, kUserRead, opts_,
                         &racer);
  ASSERT_TRUE(r.ok());
  // Walk 1: 4 reads, PML4E/PDPTE/PDE swapped, PTE mismatched. Walk 2: 4
  // reads, only the PTE still lacks A.
  EXPECT_EQ(r.reads, 8u);
  EXPECT_EQ(r.ad_updates, 5u);
  const uint64_t pte = Entry(kVa, 1);
  EXPECT_TRUE(X86Entry{pte}.accessed());
  EXPECT_TRUE(Bit(pte, 9));  // the racing writer's change survives
}

// A leaf that keeps changing between the read and the compare-exchange:
// after kMaxWalkAttempts walks the access fails rather than proceed
// without its A/D update.
TEST_F(X86WalkAd, RestartsAreBoundedAndFailWithoutTheUpdate) {
  LeafRacer racer{.mem = &mem_, .races_left = 1000};
  WalkResult r = WalkX86(mem_, pt_.root(), mode(), kVa, kUserRead, opts_,
                         &racer);
  EXPECT_EQ(r.fault, FaultKind::kUpdateFailed);
  EXPECT_EQ(r.level, 1);
  EXPECT_EQ(r.entry, Entry(kVa, 1)) << "the entry as it was last found";
  EXPECT_EQ(r.reads, 4u * kMaxWalkAttempts);
  // 4 in the first walk, then one (failing) exchange on the PTE per walk.
  EXPECT_EQ(r.ad_updates, 4u + (kMaxWalkAttempts - 1));
  EXPECT_FALSE(X86Entry{Entry(kVa, 1)}.accessed());
}

TEST_F(X86Walk, TablePointerBeyondPhysMemIsBusError) {
  Map4K(kVa, kPa);
  const uint64_t pde = Entry(kVa, 2);
  SetEntry(kVa, 2, (pde & ~BitMask(51, 12)) | (1ull << 40));  // 1 TiB
  WalkResult r = Walk(kVa, kUserRead);
  EXPECT_EQ(r.fault, FaultKind::kBusError);
  EXPECT_EQ(r.level, 1);  // the read of the PTE failed
  EXPECT_EQ(r.entry, ~0ull);
  EXPECT_EQ(r.reads, 4u);
}

TEST_F(X86Walk, WalkFromLevel2StartReadsOnlyTwoEntries) {
  Map4K(kVa, kPa);
  const PhysAddr pd = X86Entry{Entry(kVa, 3)}.address();
  WalkResult r = WalkX86(mem_, WalkStart{.table = pd, .level = 2}, mode(),
                         kVa + 0x44, kUserRead, opts_);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.reads, 2u);
  EXPECT_EQ(r.t.pa, kPa + 0x44);
  // Rights accumulated above the start still apply.
  WalkResult s = WalkX86(
      mem_,
      WalkStart{.table = pd, .level = 2, .cumulative = Perms{.user = false}},
      mode(), kVa, kUserRead, opts_);
  EXPECT_EQ(s.perm, PermFault::kUser);
  // And so does the canonical check.
  EXPECT_EQ(WalkX86(mem_, WalkStart{.table = pd, .level = 2}, mode(),
                    VirtAddr(0x0000800000000000), kUserRead, opts_)
                .fault,
            FaultKind::kNonCanonical);
}

TEST_F(X86Walk, ObserverSeesEveryEntryTopDownWithCumulativeRights) {
  Map4K(kVa, kPa, MapAttrs{.write = false});
  Recorder rec;
  WalkResult r = WalkX86(mem_, pt_.root(), mode(), kVa, kUserRead, opts_, &rec);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(rec.reads.size(), 4u);
  EXPECT_EQ(rec.reads[0].level, 4);
  EXPECT_EQ(rec.reads[0].table, pt_.root());
  EXPECT_EQ(rec.reads[3].level, 1);
  EXPECT_TRUE(rec.reads[3].leaf);
  EXPECT_FALSE(rec.reads[2].leaf);
  EXPECT_TRUE(rec.reads[2].cumulative.write);
  EXPECT_FALSE(rec.reads[3].cumulative.write);
  EXPECT_EQ(rec.reads[3].entry_pa, r.t.leaf_entry_pa);
}

TEST_F(X86Walk, GlobalLeafIsReported) {
  Map4K(kVa, kPa, MapAttrs{.global = true});
  WalkResult r = Walk(kVa, kUserRead);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.t.global);
}

TEST_F(X86Walk, WalkReadsNameTheirLevelSpaceAndVaForTheChecker) {
  // A correct walk through tagged tables raises no violation, whichever
  // half of the address space it translates.
  const VirtAddr kernel_va(0xffff888000200000);
  Map4K(kVa, kPa);
  Map4K(kernel_va, kPa, MapAttrs{.user = false});
  EXPECT_TRUE(Walk(kVa, kUserWrite).ok());
  EXPECT_TRUE(Walk(kernel_va, kSupWrite).ok());
  EXPECT_EQ(sim_.violations().total(), 0);
}

}  // namespace
}  // namespace svaemu::arch
