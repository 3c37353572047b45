// The walker and the frame-shadow checker together: a stale walk (a
// paging-structure cache still pointing at a page-table page that the kernel
// freed when it promoted a vmap range to a huge mapping) is reported as a
// walk through a freed frame, then through a reused frame, and an A/D update
// into the attacker's frame is reported as such (DESIGN.md, bug 1).
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/check/violation.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

using check::ViolationKind;

constexpr SpaceId kKernel{7};
const VirtAddr kVmap{0xffffc90000200000};  // a 2 MiB-aligned vmalloc range
const PhysAddr kHugePa{0x0000000040000000};

class StaleWalk : public ::testing::Test {
 protected:
  StaleWalk()
      : kernel_(*PageTableBuilder::Create(alloc_, PtFormat::kX86_4Level,
                                          kKernel, "init_mm",
                                          mem::kFrameShared)) {
    opts_.agent = Agent::Iommu(0);
    opts_.space = kKernel;
  }

  void SetUp() override {
    // vmap() of 512 small pages, then the range is promoted to one 2 MiB
    // mapping: pmd_free_pte_page() gives the PTE page back and the kernel
    // frees it at once (no IOMMU invalidation).
    absl::StatusOr<PhysAddr> data = alloc_.AllocateContiguous(
        512, kPageSize2M, mem::FrameUse::kData, "vmalloc");
    ASSERT_TRUE(data.ok());
    ASSERT_TRUE(
        kernel_.Map(kVmap, *data, kPageSize2M, kPageSize4K, {.user = false})
            .ok());
    pte_table_ = kernel_.EntryAddress(kVmap, 1)->AlignDown(kPageSize4K);
    // The IOMMU caches the PDE: later walks start from the PTE page.
    stale_ = WalkStart{.table = pte_table_, .level = 1,
                       .cumulative = Perms{.user = false}};
    ASSERT_TRUE(WalkStale().ok());
    std::vector<PhysAddr> freed;
    ASSERT_TRUE(
        kernel_.Promote(kVmap, 2, kHugePa, {.user = false}, &freed).ok());
    ASSERT_EQ(freed, std::vector<PhysAddr>{pte_table_});
    alloc_.Free(pte_table_, "pmd_free_pte_page");
    ASSERT_EQ(sim_.violations().total(), 0);
  }

  WalkResult WalkStale() {
    return WalkX86(mem_, stale_, X86PagingMode{}, kVmap + 0x5000,
                   AccessType{.user = false}, opts_);
  }
  int Count(ViolationKind k) { return sim_.violations().Count(k); }

  sim::Simulation sim_;
  mem::PhysMem mem_{sim_};
  mem::FrameAllocator alloc_{mem_};
  PageTableBuilder kernel_;
  WalkOptions opts_;
  PhysAddr pte_table_;
  WalkStart stale_;
};

TEST_F(StaleWalk, FreshWalkAfterPromoteSeesHugeLeafWithoutViolation) {
  WalkResult r = WalkX86(mem_, kernel_.root(), X86PagingMode{}, kVmap + 0x5000,
                         AccessType{.user = false}, opts_);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, kHugePa + 0x5000);
  EXPECT_EQ(sim_.violations().total(), 0);
}

TEST_F(StaleWalk, WalkThroughFreedPteTableIsReportedOnce) {
  WalkStale();
  EXPECT_EQ(Count(ViolationKind::kWalkThroughFreedFrame), 1);
  EXPECT_EQ(sim_.violations().total(), 1);
  const check::Violation v = sim_.violations().violations().front();
  EXPECT_EQ(v.frame, pte_table_);
  EXPECT_EQ(v.agent, Agent::Iommu(0));
  EXPECT_STREQ(v.free.tag, "pmd_free_pte_page");
}

TEST_F(StaleWalk, WalkThroughPteTableReusedAsDataIsReportedOnce) {
  absl::StatusOr<PhysAddr> reused =
      alloc_.Allocate(mem::FrameUse::kData, "attacker_spray");
  ASSERT_TRUE(reused.ok());
  ASSERT_EQ(*reused, pte_table_);  // LIFO reuse
  WalkStale();
  EXPECT_EQ(Count(ViolationKind::kWalkThroughReusedFrame), 1);
  EXPECT_EQ(sim_.violations().total(), 1);
}

TEST_F(StaleWalk, AccessedBitUpdateIntoAttackerFrameIsReportedOnce) {
  ASSERT_EQ(*alloc_.Allocate(mem::FrameUse::kData, "attacker_spray"),
            pte_table_);
  // The attacker's bytes: a present, writable PTE with A=0 pointing at a
  // frame of its choosing.
  const PhysAddr target(0x0000000012345000);
  mem_.Write64(pte_table_ + 8ull * TableIndex(kVmap + 0x5000, 1),
               X86Entry::Leaf(1, target, {.user = false, .accessed = false}).raw,
               mem::Access::Cpu());
  WalkResult r = WalkStale();
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, target);  // the device's DMA goes where the attacker says
  EXPECT_EQ(r.ad_updates, 1u);
  EXPECT_EQ(Count(ViolationKind::kAdWriteToNonTableFrame), 1);
  EXPECT_EQ(Count(ViolationKind::kWalkThroughReusedFrame), 1);
  EXPECT_EQ(sim_.violations().total(), 2);
}

TEST(StaleWalkArm64, WalkThroughFreedL3TableIsReportedOnce) {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  mem::FrameAllocator alloc(mem);
  const VirtAddr va(0xffff800000200000);
  PageTableBuilder pt = *PageTableBuilder::Create(
      alloc, PtFormat::kArm64_4K48, kKernel, "swapper_pg_dir");
  ASSERT_TRUE(pt.Map(va, PhysAddr(0x80000000), kPageSize2M, kPageSize4K,
                     {.user = false})
                  .ok());
  const PhysAddr l3 = pt.EntryAddress(va, 1)->AlignDown(kPageSize4K);
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(pt.Promote(va, 2, PhysAddr(0x80000000), {.user = false}, &freed)
                  .ok());
  alloc.Free(freed.at(0), "pmd_free_pte_page");
  WalkOptions opts{.agent = Agent::Iommu(1), .space = kKernel};
  WalkResult r = WalkArm64(
      mem, Arm64Stage1Config{.ttbr1 = pt.root()},
      WalkStart{.table = l3, .level = 1, .cumulative = Perms{.user = false}},
      va, AccessType{.user = false}, opts);
  EXPECT_TRUE(r.ok());  // the stale bytes still look like a page
  EXPECT_EQ(sim.violations().Count(ViolationKind::kWalkThroughFreedFrame), 1);
  EXPECT_EQ(sim.violations().total(), 1);
}

}  // namespace
}  // namespace svaemu::arch
