#include "svaemu/kernel/kernel_space.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernel/kernel_testutil.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/x86_64.h"

namespace svaemu::kernel {
namespace {

using check::ViolationKind;

TEST(KernelSpaceX86, KernelHalfIsPreallocatedSharedAndClonedIntoEveryPgd) {
  TestMachine m;
  KernelSpace& ks = m.kernel->kspace();
  const mem::Access a = mem::Access::Cpu();
  Mm& mm = m.NewMm();
  for (uint64_t i = 0; i < 512; ++i) {
    const uint64_t kernel_entry = m.mem.Read64(ks.root() + i * 8, a);
    const uint64_t user_entry = m.mem.Read64(mm.pgd() + i * 8, a);
    if (i < 256) {
      EXPECT_EQ(kernel_entry, 0u) << i;
      EXPECT_EQ(user_entry, 0u) << i;
    } else {
      ASSERT_TRUE(kernel_entry & 1) << i;
      EXPECT_EQ(user_entry, kernel_entry) << i;
      const mem::FrameMeta& t = m.mem.Meta(PhysAddr(kernel_entry & 0x000ffffffffff000ull));
      EXPECT_EQ(t.use, mem::FrameUse::kPageTable);
      EXPECT_EQ(t.level, 3);
      EXPECT_TRUE(t.flags & mem::kFrameShared);
    }
  }
}

TEST(KernelSpaceX86, VmallocMappingIsVisibleThroughAProcessPgd) {
  TestMachine m;
  Mm& mm = m.NewMm();  // created before the mapping exists
  VirtAddr va = *m.kernel->kspace().Vmalloc(3 * kPageSize4K);
  const std::vector<uint8_t> msg = {'k', 'v', 'a'};
  ASSERT_TRUE(m.kernel->kspace().Write(va + 4090, msg).ok());
  arch::AccessType acc;
  acc.user = false;
  arch::WalkOptions opts;
  opts.space = mm.space();
  arch::WalkResult r = arch::WalkX86(m.mem, mm.pgd(), {.levels = 4}, va + 4096,
                                     acc, opts);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, m.kernel->kspace().Lookup(va + 4096)->pa);
  EXPECT_EQ(m.sim.violations().total(), 0);
  // Kernel pages are supervisor-only.
  acc.user = true;
  r = arch::WalkX86(m.mem, mm.pgd(), {.levels = 4}, va, acc, opts);
  EXPECT_EQ(r.fault, arch::FaultKind::kPermission);
  EXPECT_EQ(r.perm, arch::PermFault::kUser);
}

TEST(KernelSpace, VfreeUnmapsFlushesAndKeepsThePtePage) {
  TestMachine m;
  KernelSpace& ks = m.kernel->kspace();
  std::vector<std::pair<VirtAddr, VirtAddr>> flushes;
  ks.AddFlushListener([&](VirtAddr s, VirtAddr e) { flushes.emplace_back(s, e); });
  VirtAddr va = *ks.Vmalloc(2 * kPageSize4K);
  const PhysAddr pte_page = m.KernelTable(va, 1);
  ASSERT_TRUE(ks.Vfree(va).ok());
  EXPECT_FALSE(ks.Lookup(va).has_value());
  ASSERT_EQ(flushes.size(), 1u);
  EXPECT_EQ(flushes[0], std::make_pair(va, va + 2 * kPageSize4K));
  EXPECT_EQ(m.mem.Meta(pte_page).use, mem::FrameUse::kPageTable);
  EXPECT_EQ(ks.Vfree(va).code(), absl::StatusCode::kNotFound);
}

TEST(KernelSpace, VmapHugePromotionFreesThePtePageWhichLifoReusesNext) {
  TestMachine m;  // immediate kernel page-table free
  KernelSpace& ks = m.kernel->kspace();
  std::vector<std::pair<VirtAddr, VirtAddr>> flushes;
  ks.AddFlushListener([&](VirtAddr s, VirtAddr e) { flushes.emplace_back(s, e); });
  VirtAddr small = *ks.Vmalloc(4 * kPageSize4K);
  const PhysAddr pte_page = m.KernelTable(small, 1);
  ASSERT_TRUE(ks.Vfree(small).ok());
  flushes.clear();

  PhysAddr huge = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "test");
  VirtAddr big = *ks.VmapHuge(huge, kPageSize2M, kPageSize2M);
  ASSERT_EQ(big, small) << "the freed vmalloc range is reused first";
  std::optional<arch::Translation> t = ks.Lookup(big + 0x1234);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->page_shift, 21);
  EXPECT_EQ(t->pa, huge + 0x1234);
  // pmd_free_pte_page(): flush for the address, then free.
  ASSERT_EQ(flushes.size(), 1u);
  EXPECT_EQ(flushes[0].first, big);
  const mem::FrameMeta& meta = m.mem.Meta(pte_page);
  EXPECT_EQ(meta.use, mem::FrameUse::kFree);
  EXPECT_STREQ(meta.free.tag, "pmd_free_pte_page");
  EXPECT_EQ(*m.alloc.Allocate(mem::FrameUse::kData, "spray"), pte_page);
}

TEST(KernelSpace, GigabytePromotionFreesThePmdPageAndThePtePagesBelowIt) {
  TestMachine m;
  KernelSpace& ks = m.kernel->kspace();
  VirtAddr small = *ks.Vmalloc(kPageSize4K);
  const PhysAddr pte_page = m.KernelTable(small, 1);
  const PhysAddr pmd_page = m.KernelTable(small, 2);
  ASSERT_TRUE(ks.Vfree(small).ok());
  PhysAddr huge = *m.alloc.AllocateContiguous(1 << 18, kPageSize1G, mem::FrameUse::kData, "t");
  VirtAddr big = *ks.VmapHuge(huge, kPageSize1G, kPageSize1G);
  ASSERT_EQ(big, small);
  EXPECT_EQ(ks.Lookup(big)->page_shift, 30);
  EXPECT_EQ(m.mem.Meta(pte_page).use, mem::FrameUse::kFree);
  EXPECT_EQ(m.mem.Meta(pmd_page).use, mem::FrameUse::kFree);
  EXPECT_STREQ(m.mem.Meta(pmd_page).free.tag, "pud_free_pmd_page");
}

TEST(KernelSpace, MisuseGetsPreciseCodes) {
  TestMachine m;
  KernelSpace& ks = m.kernel->kspace();
  EXPECT_EQ(ks.Vmalloc(0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks.VmapHuge(PhysAddr(0x1000), kPageSize2M, kPageSize2M).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks.VmapHuge(PhysAddr(0), kPageSize2M, 12345).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ks.Vunmap(VirtAddr(0xffffc90000000000ull)).code(), absl::StatusCode::kNotFound);
  std::vector<uint8_t> buf(4);
  EXPECT_EQ(ks.Read(VirtAddr(0xffffc90000000000ull), buf).code(),
            absl::StatusCode::kFailedPrecondition);
}

// Foundation acceptance: the stale paging-structure cache is played by hand
// (a walk started at the freed PTE page, as a PDE-cache hit would start it).
TEST(KernelSpace, StaleWalkThroughFreedThenReusedPtePageIsReportedOnceEach) {
  TestMachine m;
  KernelSpace& ks = m.kernel->kspace();
  Mm& mm = m.NewMm();
  VirtAddr va = *ks.Vmalloc(kPageSize4K);
  const PhysAddr stale_pte_page = m.KernelTable(va, 1);
  ASSERT_TRUE(ks.Vfree(va).ok());
  PhysAddr huge = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "t");
  ASSERT_EQ(*ks.VmapHuge(huge, kPageSize2M, kPageSize2M), va);

  arch::AccessType acc;
  acc.user = false;
  arch::WalkOptions opts;
  opts.agent = Agent::Iommu(0);
  opts.space = mm.space();
  const arch::WalkStart stale{.table = stale_pte_page, .level = 1, .cumulative = {}};

  // 1. The frame is free.
  arch::WalkResult r = arch::WalkX86(m.mem, stale, {.levels = 4}, va, acc, opts);
  // vfree() cleared the entry before the page was freed: not present.
  EXPECT_EQ(r.fault, arch::FaultKind::kNotPresent);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kWalkThroughFreedFrame), 1);
  EXPECT_EQ(m.sim.violations().total(), 1);

  // 2. The attacker gets the frame back (LIFO) and writes a crafted PTE.
  PhysAddr reused = *m.alloc.Allocate(mem::FrameUse::kData, "attacker_spray");
  ASSERT_EQ(reused, stale_pte_page);
  PhysAddr target = *m.alloc.Allocate(mem::FrameUse::kData, "attacker_target");
  const uint64_t crafted = target.value() | 0x3;  // P | R/W, A clear
  m.mem.Write64(reused + arch::TableIndex(va, 1) * 8, crafted, mem::Access::Cpu());
  m.sim.violations().Clear();

  r = arch::WalkX86(m.mem, stale, {.levels = 4}, va + 0x10, acc, opts);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, target + 0x10) << "the translation goes through crafted bytes";
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kWalkThroughReusedFrame), 1);
  // 3. Setting A in the crafted entry writes into a data frame.
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kAdWriteToNonTableFrame), 1);
  EXPECT_EQ(m.sim.violations().total(), 2);
  auto v = m.sim.violations().violations();
  EXPECT_STREQ(v[0].free.tag, "pmd_free_pte_page");
  EXPECT_STREQ(v[0].alloc.tag, "attacker_spray");
  EXPECT_EQ(v[0].agent, Agent::Iommu(0));
}

TEST(KernelSpaceArm64, KernelTreeIsTtbr1AndUserTreesHoldNoKernelMappings) {
  TestMachine m(arch::PtFormat::kArm64_4K48);
  KernelSpace& ks = m.kernel->kspace();
  Mm& mm = m.NewMm();
  VirtAddr va = *ks.Vmalloc(kPageSize4K);
  EXPECT_GE(va, VirtAddr(0xffff800080000000ull));
  for (uint64_t i = 0; i < 512; ++i) {
    EXPECT_EQ(m.mem.Read64(mm.pgd() + i * 8, mem::Access::Cpu()), 0u) << i;
  }
  arch::Arm64Stage1Config cfg{.ttbr0 = mm.pgd(), .ttbr1 = ks.root()};
  arch::AccessType acc;
  acc.user = false;
  arch::WalkOptions opts;
  opts.space = mm.space();
  arch::WalkResult r = arch::WalkArm64(m.mem, cfg, va, acc, opts);
  ASSERT_TRUE(r.ok()) << r.fault;
  EXPECT_EQ(r.t.pa, ks.Lookup(va)->pa);
  cfg.epd1 = true;  // what an SVA context descriptor sets
  r = arch::WalkArm64(m.mem, cfg, va, acc, opts);
  EXPECT_EQ(r.fault, arch::FaultKind::kRootDisabled);
  EXPECT_EQ(r.reads, 0u);
}

}  // namespace
}  // namespace svaemu::kernel
