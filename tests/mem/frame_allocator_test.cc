#include "svaemu/mem/frame_allocator.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::mem {
namespace {

using check::ViolationKind;

struct Fixture {
  explicit Fixture(ReusePolicy reuse = ReusePolicy::kLifo, uint64_t seed = 1)
      : sim({.seed = seed}), mem(sim), alloc(mem, {.reuse = reuse}) {}
  sim::Simulation sim;
  PhysMem mem;
  FrameAllocator alloc;
};

TEST(FrameAllocator, LifoHandsBackTheLastFreedFrameFirst) {
  Fixture f;
  PhysAddr a = *f.alloc.Allocate(FrameUse::kData, "t");
  PhysAddr b = *f.alloc.Allocate(FrameUse::kData, "t");
  f.alloc.Free(a, "t");
  f.alloc.Free(b, "t");
  EXPECT_EQ(*f.alloc.Allocate(FrameUse::kData, "t"), b);
  EXPECT_EQ(*f.alloc.Allocate(FrameUse::kData, "t"), a);
}

TEST(FrameAllocator, FifoHandsBackTheFirstFreedFrameFirst) {
  Fixture f(ReusePolicy::kFifo);
  PhysAddr a = *f.alloc.Allocate(FrameUse::kData, "t");
  PhysAddr b = *f.alloc.Allocate(FrameUse::kData, "t");
  f.alloc.Free(a, "t");
  f.alloc.Free(b, "t");
  EXPECT_EQ(*f.alloc.Allocate(FrameUse::kData, "t"), a);
}

std::vector<PhysAddr> RandomReuse(uint64_t seed) {
  Fixture f(ReusePolicy::kRandom, seed);
  std::vector<PhysAddr> frames;
  for (int i = 0; i < 16; ++i) frames.push_back(*f.alloc.Allocate(FrameUse::kData, "t"));
  for (PhysAddr p : frames) f.alloc.Free(p, "t");
  std::vector<PhysAddr> out;
  for (int i = 0; i < 16; ++i) out.push_back(*f.alloc.Allocate(FrameUse::kData, "t"));
  return out;
}

TEST(FrameAllocator, RandomReuseIsSeeded) {
  EXPECT_EQ(RandomReuse(5), RandomReuse(5));
  EXPECT_NE(RandomReuse(5), RandomReuse(6));
}

TEST(FrameAllocator, ShadowRecordsUseSitesAndTimes) {
  Fixture f;
  f.sim.clock().Advance(10);
  PhysAddr pt = *f.alloc.AllocatePageTable(
      {.space = SpaceId(3), .level = 1, .va_base = VirtAddr(0x200000)},
      "pte_alloc");
  const FrameMeta& m = f.mem.Meta(pt);
  EXPECT_EQ(m.use, FrameUse::kPageTable);
  EXPECT_EQ(m.space, SpaceId(3));
  EXPECT_EQ(m.level, 1);
  EXPECT_EQ(m.va_base, VirtAddr(0x200000));
  EXPECT_EQ(m.alloc.time, 10u);
  EXPECT_STREQ(m.alloc.tag, "pte_alloc");
  f.sim.clock().Advance(5);
  f.alloc.Free(pt, "pte_free");
  EXPECT_EQ(f.mem.Meta(pt).use, FrameUse::kFree);
  EXPECT_EQ(f.mem.Meta(pt).free.time, 15u);
  EXPECT_STREQ(f.mem.Meta(pt).free.tag, "pte_free");
}

TEST(FrameAllocator, PageTablesAreZeroedButReusedDataKeepsItsBytes) {
  Fixture f;
  PhysAddr a = *f.alloc.Allocate(FrameUse::kData, "t");
  f.mem.Write64(a + 8, 0xdead, Access::Cpu());
  f.alloc.Free(a, "t");
  PhysAddr b = *f.alloc.Allocate(FrameUse::kData, "t");
  ASSERT_EQ(a, b);
  EXPECT_EQ(f.mem.Read64(b + 8, Access::Cpu()), 0xdeadu);
  f.alloc.Free(b, "t");
  PhysAddr pt = *f.alloc.AllocatePageTable({.space = SpaceId(1)}, "t");
  ASSERT_EQ(pt, a);
  EXPECT_EQ(f.mem.Read64(pt + 8, Access::Cpu()), 0u);
}

TEST(FrameAllocator, DoubleFreeIsAViolationNotACrash) {
  Fixture f;
  PhysAddr a = *f.alloc.Allocate(FrameUse::kData, "t");
  f.alloc.Free(a, "first");
  f.alloc.Free(a, "second");
  EXPECT_EQ(f.sim.violations().Count(ViolationKind::kDoubleFree), 1);
  EXPECT_EQ(f.alloc.free_list_size(), 1u);  // not listed twice
  auto v = f.sim.violations().violations();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_STREQ(v[0].free.tag, "first");
}

TEST(FrameAllocator, FreeOfNeverAllocatedFrameIsAViolation) {
  Fixture f;
  f.alloc.Free(PhysAddr(0x800000), "bogus");
  f.alloc.Free(PhysAddr(0x1000), "outside the managed range");
  EXPECT_EQ(f.sim.violations().Count(ViolationKind::kFreeOfUnallocatedFrame), 2);
  EXPECT_EQ(f.alloc.free_list_size(), 0u);
}

TEST(FrameAllocator, ExhaustionIsResourceExhausted) {
  sim::Simulation s;
  PhysMem m(s, {.size_bytes = 1 << 20});
  FrameAllocator a(m, {.base = PhysAddr(0), .size_bytes = 2 * 4096});
  EXPECT_TRUE(a.Allocate(FrameUse::kData, "t").ok());
  EXPECT_TRUE(a.Allocate(FrameUse::kData, "t").ok());
  EXPECT_EQ(a.Allocate(FrameUse::kData, "t").status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(FrameAllocator, AllocateRejectsNonLiveUses) {
  Fixture f;
  EXPECT_EQ(f.alloc.Allocate(FrameUse::kFree, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.alloc.Allocate(FrameUse::kPageTable, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FrameAllocator, ContiguousIsAlignedAndSkippedFramesStayUsable) {
  Fixture f;
  PhysAddr first = *f.alloc.Allocate(FrameUse::kData, "t");
  PhysAddr huge = *f.alloc.AllocateContiguous(512, 2 << 20, FrameUse::kData, "vmap");
  EXPECT_TRUE(huge.IsAligned(2 << 20));
  EXPECT_GT(huge, first);
  for (int i = 0; i < 512; ++i) {
    EXPECT_EQ(f.mem.Meta(huge + i * 4096).use, FrameUse::kData);
  }
  // The frames between `first` and the aligned block were never used; they
  // are handed out before fresh memory.
  PhysAddr next = *f.alloc.Allocate(FrameUse::kData, "t");
  EXPECT_LT(next, huge);
  EXPECT_EQ(f.alloc.AllocateContiguous(0, 4096, FrameUse::kData, "t").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace svaemu::mem
