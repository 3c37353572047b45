// The checker in PhysMem: walk reads and A/D updates are compared with the
// frame shadow. (The arch tests drive the same checks through a real walker.)
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::mem {
namespace {

using check::ViolationKind;

Access Walk(SpaceId space, uint8_t level, VirtAddr va) {
  Access a;
  a.agent = Agent::Iommu(0);
  a.purpose = Purpose::kPageTableWalk;
  a.level = level;
  a.space = space;
  a.va = va;
  return a;
}

class WalkCheck : public ::testing::Test {
 protected:
  WalkCheck() : mem_(sim_), alloc_(mem_) {}
  sim::Simulation sim_;
  PhysMem mem_;
  FrameAllocator alloc_;
  const SpaceId space_{7};
  const VirtAddr va_{0x40201000};  // inside the 2 MiB range at 0x40200000
};

TEST_F(WalkCheck, LiveTableOfExpectedSpaceLevelAndRangeIsClean) {
  PhysAddr pt = *alloc_.AllocatePageTable(
      {.space = space_, .level = 1, .va_base = VirtAddr(0x40200000)}, "t");
  mem_.Read64(pt + 8, Walk(space_, 1, va_));
  EXPECT_EQ(sim_.violations().total(), 0);
}

TEST_F(WalkCheck, FreedTableIsAWalkThroughFreedFrame) {
  PhysAddr pt = *alloc_.AllocatePageTable(
      {.space = space_, .level = 1, .va_base = VirtAddr(0x40200000)}, "pte_alloc");
  alloc_.Free(pt, "pte_free");
  mem_.Read64(pt + 8, Walk(space_, 1, va_));
  ASSERT_EQ(sim_.violations().Count(ViolationKind::kWalkThroughFreedFrame), 1);
  auto v = sim_.violations().violations()[0];
  EXPECT_EQ(*v.frame, pt);
  EXPECT_STREQ(v.alloc.tag, "pte_alloc");
  EXPECT_STREQ(v.free.tag, "pte_free");
  EXPECT_EQ(v.agent, Agent::Iommu(0));
}

TEST_F(WalkCheck, TableReusedAsDataIsAWalkThroughReusedFrame) {
  PhysAddr pt = *alloc_.AllocatePageTable(
      {.space = space_, .level = 1, .va_base = VirtAddr(0x40200000)}, "t");
  alloc_.Free(pt, "t");
  ASSERT_EQ(*alloc_.Allocate(FrameUse::kData, "spray"), pt);
  mem_.Read64(pt, Walk(space_, 1, va_));
  EXPECT_EQ(sim_.violations().Count(ViolationKind::kWalkThroughReusedFrame), 1);
  EXPECT_EQ(sim_.violations().total(), 1);
}

TEST_F(WalkCheck, TableReusedForAnotherSpaceLevelOrRangeIsReused) {
  PhysAddr pt = *alloc_.AllocatePageTable(
      {.space = SpaceId(9), .level = 1, .va_base = VirtAddr(0x40200000)}, "t");
  mem_.Read64(pt, Walk(space_, 1, va_));  // other space
  alloc_.Retag(pt, {.space = space_, .level = 2, .va_base = VirtAddr(0x40000000)});
  mem_.Read64(pt, Walk(space_, 1, va_));  // other level
  alloc_.Retag(pt, {.space = space_, .level = 1, .va_base = VirtAddr(0x80000000)});
  mem_.Read64(pt, Walk(space_, 1, va_));  // other range
  EXPECT_EQ(sim_.violations().Count(ViolationKind::kWalkThroughReusedFrame), 3);
}

TEST_F(WalkCheck, SharedKernelTablesMayBeWalkedFromAnySpace) {
  PhysAddr pt = *alloc_.AllocatePageTable({.space = SpaceId(1),
                                           .level = 1,
                                           .va_base = VirtAddr(0x40200000),
                                           .flags = kFrameShared},
                                          "t");
  mem_.Read64(pt, Walk(space_, 1, va_));
  EXPECT_EQ(sim_.violations().total(), 0);
}

TEST_F(WalkCheck, AdUpdateIntoNonTableFrameIsItsOwnViolation) {
  PhysAddr data = *alloc_.Allocate(FrameUse::kData, "t");
  Access a = Walk(space_, 1, va_);
  a.purpose = Purpose::kAdUpdate;
  uint64_t expected = 0;
  mem_.CompareExchange64(data, &expected, 1 << 5, a);
  EXPECT_EQ(sim_.violations().Count(ViolationKind::kAdWriteToNonTableFrame), 1);
  EXPECT_EQ(sim_.violations().total(), 1);
}

TEST_F(WalkCheck, UntrackedFramesAndDataAccessesAreNotChecked) {
  mem_.Read64(PhysAddr(0x9000), Walk(space_, 1, va_));  // never allocated
  PhysAddr data = *alloc_.Allocate(FrameUse::kData, "t");
  mem_.Read64(data, Access::Cpu());
  EXPECT_EQ(sim_.violations().total(), 0);
}

TEST_F(WalkCheck, CheckingCanBeTurnedOff) {
  PhysAddr pt = *alloc_.AllocatePageTable({.space = space_, .level = 1}, "t");
  alloc_.Free(pt, "t");
  mem_.set_check_walks(false);
  mem_.Read64(pt, Walk(space_, 1, va_));
  EXPECT_EQ(sim_.violations().total(), 0);
}

}  // namespace
}  // namespace svaemu::mem
