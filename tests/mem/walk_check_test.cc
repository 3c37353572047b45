// The checker in PhysMem: walk reads and A/D updates are compared with the
// frame shadow. (The arch tests drive the same checks through a real walker.)
#include <algorithm>
#include <vector>

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

// The rule of phys_mem.h, written out again from the frame's shadow: a
// walk read at `level` of `space` for `va` is clean when the frame is
// untracked, or a page table of that level, of that space (any, for
// kNoSpace) or shared, whose range holds va (any va, for a root).
bool CleanWalkRead(const FrameMeta& m, SpaceId space, uint8_t level, VirtAddr va) {
  if (m.use == FrameUse::kUntracked) return true;
  if (m.use != FrameUse::kPageTable || m.level != level) return false;
  if (space != kNoSpace && m.space != space && (m.flags & kFrameShared) == 0) return false;
  if ((m.flags & kFrameRoot) != 0) return true;
  const unsigned shift = 12 + 9 * level;
  return shift >= 64 || (va.value() >> shift) == (m.va_base.value() >> shift);
}

// The walker's reader (WalkReader) and Read64 against that rule: for
// frames of every kind and shape and reads at every level, in and out of
// range and of either space, both report exactly the reads the rule says
// are not clean, and TryRead() takes a read as plain only when it is clean.
// With checking off nothing is reported and TryRead() takes every read.
TEST_F(WalkCheck, WalkReaderReportsExactlyTheReadsTheRuleFlags) {
  const SpaceId other{8};
  std::vector<PhysAddr> frames;
  for (uint8_t level = 1; level <= 5; ++level) {
    const VirtAddr base = va_.AlignDown(1ull << std::min(63, 12 + 9 * level));
    for (uint8_t flags : {uint8_t{0}, kFrameRoot, kFrameShared}) {
      frames.push_back(*alloc_.AllocatePageTable(
          {.space = space_, .level = level, .va_base = base, .flags = flags}, "t"));
      frames.push_back(*alloc_.AllocatePageTable(
          {.space = other, .level = level, .va_base = base, .flags = flags}, "t"));
    }
    frames.push_back(*alloc_.AllocatePageTable(
        {.space = space_, .level = level, .va_base = VirtAddr(0x7f0000000000)}, "t"));
  }
  frames.push_back(*alloc_.Allocate(FrameUse::kData, "t"));
  frames.push_back(*alloc_.Allocate(FrameUse::kIommuTable, "t"));
  const PhysAddr freed = *alloc_.AllocatePageTable({.space = space_, .level = 1}, "t");
  alloc_.Free(freed, "t");
  frames.push_back(freed);
  frames.push_back(PhysAddr(0x9000));  // never allocated
  frames.push_back(PhysAddr(60ull << 30));  // an untouched region

  for (bool check : {true, false}) {
    mem_.set_check_walks(check);
    int reports = 0;
    for (PhysAddr f : frames) {
      for (SpaceId space : {space_, other, kNoSpace}) {
        for (VirtAddr va : {va_, VirtAddr(0x7f0000201000), VirtAddr(~0ull << 47)}) {
          for (uint8_t level = 1; level <= 5; ++level) {
            SCOPED_TRACE(testing::Message() << "frame " << f << " space " << space.value()
                                            << " va " << va << " level " << int{level}
                                            << " check " << check);
            const int64_t before = sim_.violations().total();
            const int64_t due =
                check && !CleanWalkRead(mem_.Meta(f), space, level, va) ? 1 : 0;
            mem_.Read64(f + 16, Walk(space, level, va));
            const int64_t by_read64 = sim_.violations().total() - before;
            EXPECT_EQ(by_read64, due);
            WalkReader rd(mem_, Agent::Iommu(0), space, va);
            uint64_t plain = 0;
            const bool took = rd.TryRead(f + 16, level, &plain);
            EXPECT_EQ(sim_.violations().total() - before, by_read64) << "TryRead reported";
            uint64_t v = 0;
            EXPECT_TRUE(rd.Read(f + 16, level, &v));
            EXPECT_EQ(sim_.violations().total() - before, 2 * by_read64);
            if (by_read64 != 0) {
              EXPECT_FALSE(took);
            }
            if (!check) {
              EXPECT_TRUE(took);
            }
            if (took) {
              EXPECT_EQ(plain, v);
            }
            reports += static_cast<int>(by_read64);
          }
        }
      }
    }
    if (check) {
      EXPECT_GT(reports, 100);  // the loop does reach the violations
    } else {
      EXPECT_EQ(reports, 0);
    }
  }
}

}  // namespace
}  // namespace svaemu::mem
