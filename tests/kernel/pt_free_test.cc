#include "svaemu/kernel/pt_free.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/kernel_testutil.h"

namespace svaemu::kernel {
namespace {

using ::testing::ElementsAre;

// Makes a 4 KiB vmalloc area, frees it, and promotes its range to a 2 MiB
// vmap: the PTE page goes to KernelPtFree. Returns that page.
PhysAddr FreeOnePtePage(TestMachine& m) {
  KernelSpace& ks = m.kernel->kspace();
  VirtAddr va = *ks.Vmalloc(kPageSize4K);
  PhysAddr pte = m.KernelTable(va, 1);
  EXPECT_TRUE(ks.Vfree(va).ok());
  PhysAddr huge = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "t");
  EXPECT_EQ(*ks.VmapHuge(huge, kPageSize2M, kPageSize2M), va);
  return pte;
}

TEST(KernelPtFree, ImmediatePolicyFreesAtOnceWithoutHook) {
  TestMachine m(arch::PtFormat::kX86_4Level, KernelPtFreePolicy::kImmediate);
  int hooks = 0;
  m.kernel->pt_free().set_batch_hook([&](std::span<const PhysAddr>) { ++hooks; });
  PhysAddr pte = FreeOnePtePage(m);
  EXPECT_EQ(m.mem.Meta(pte).use, mem::FrameUse::kFree);
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(hooks, 0);
  EXPECT_EQ(m.kernel->pt_free().pages_freed(), 1u);
}

TEST(KernelPtFree, DeferredBatchFreesOnlyAfterItsHookRan) {
  TestMachine m(arch::PtFormat::kX86_4Level, KernelPtFreePolicy::kDeferredBatch);
  std::vector<std::string> log;
  PhysAddr pte;
  m.kernel->pt_free().set_batch_hook([&](std::span<const PhysAddr> batch) {
    // When the hook runs, the pages are still page tables: the IOMMU
    // invalidation happens while nothing can have reused them.
    ASSERT_EQ(batch.size(), 1u);
    EXPECT_EQ(batch[0], pte);
    EXPECT_EQ(m.mem.Meta(pte).use, mem::FrameUse::kPageTable);
    log.push_back("hook");
  });
  pte = FreeOnePtePage(m);
  EXPECT_EQ(m.mem.Meta(pte).use, mem::FrameUse::kPageTable);
  EXPECT_EQ(m.kernel->pt_free().pending(), 1u);
  m.sim.RunUntilIdle(100);
  EXPECT_THAT(log, ElementsAre("hook"));
  EXPECT_EQ(m.mem.Meta(pte).use, mem::FrameUse::kFree);
  EXPECT_EQ(m.kernel->pt_free().batches_run(), 1u);
  EXPECT_GE(m.sim.now(), m.sim.cost().work_latency);
}

TEST(KernelPtFree, FlushRunsThePendingBatchNow) {
  TestMachine m(arch::PtFormat::kX86_4Level, KernelPtFreePolicy::kDeferredBatch);
  int hooks = 0;
  m.kernel->pt_free().set_batch_hook([&](std::span<const PhysAddr>) { ++hooks; });
  PhysAddr pte = FreeOnePtePage(m);
  m.kernel->pt_free().Flush();
  EXPECT_EQ(hooks, 1);
  EXPECT_EQ(m.mem.Meta(pte).use, mem::FrameUse::kFree);
  EXPECT_EQ(m.sim.now(), 0u);
}

TEST(KernelPtFree, DirectBatchOfSeveralPagesRunsTheHookOnce) {
  TestMachine m(arch::PtFormat::kX86_4Level, KernelPtFreePolicy::kDeferredBatch);
  std::vector<size_t> batches;
  m.kernel->pt_free().set_batch_hook(
      [&](std::span<const PhysAddr> b) { batches.push_back(b.size()); });
  std::vector<PhysAddr> pages;
  for (int i = 0; i < 3; ++i) {
    PhysAddr p = *m.alloc.AllocatePageTable(
        {.space = kKernelSpaceId, .level = 1, .flags = mem::kFrameShared}, "t");
    pages.push_back(p);
    m.kernel->pt_free().Free(p, "test");
  }
  m.sim.RunUntilIdle(100);
  EXPECT_THAT(batches, ElementsAre(3u));
  for (PhysAddr p : pages) EXPECT_EQ(m.mem.Meta(p).use, mem::FrameUse::kFree);
  // A page freed after the batch ran starts a new batch.
  PhysAddr late = *m.alloc.AllocatePageTable({.space = kKernelSpaceId}, "t");
  m.kernel->pt_free().Free(late, "test");
  m.sim.RunUntilIdle(100);
  EXPECT_THAT(batches, ElementsAre(3u, 1u));
}

}  // namespace
}  // namespace svaemu::kernel
