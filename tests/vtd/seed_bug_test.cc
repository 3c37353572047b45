// Seed bug 1 in miniature, at driver level: a device bound through a PASID
// with SRE walks the shared kernel half; the PDE cache keeps a pointer to a
// kernel PTE page that vmap's huge-mapping path frees and an attacker
// reuses. Without an IOMMU invalidation the next DMA walks the crafted
// frame; with the driver's PASID-range flush (IH=0) hooked to the kernel
// TLB flush, it does not.
#include "gtest/gtest.h"
#include "svaemu/arch/x86_64.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using check::ViolationKind;
using testing::kDid;
using testing::kPasid;
using testing::VtdMachine;

struct SeedBug {
  VtdMachine m;
  kernel::Mm* mm = nullptr;
  VirtAddr va;
  PhysAddr pte_page;

  void Arrange() {
    mm = &m.NewMm();
    m.Bind(*mm, {.sre = true});
    kernel::KernelSpace& ks = m.kernel->kspace();
    va = *ks.Vmalloc(kPageSize4K);
    pte_page = ks.builder().EntryAddress(va, 1)->AlignDown(kPageSize4K);
    // The device reads the kernel buffer: the walk fills the PDE cache with
    // the kernel-half PDE that points at pte_page.
    VtdResult r = m.Dma(va.value(), false, /*priv=*/true);
    ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
    ASSERT_EQ(m.Stat("pde_cache.insertions"), 1u);
  }
  // vfree() then vmap of a 2 MiB page over the same range: the PTE page is
  // freed at once (kImmediate) and LIFO reuse gives it to the attacker.
  PhysAddr FreeAndReuse(PhysAddr* target) {
    kernel::KernelSpace& ks = m.kernel->kspace();
    EXPECT_TRUE(ks.Vfree(va).ok());
    PhysAddr huge = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "t");
    EXPECT_EQ(*ks.VmapHuge(huge, kPageSize2M, kPageSize2M), va);
    PhysAddr reused = *m.alloc.Allocate(mem::FrameUse::kData, "attacker_spray");
    EXPECT_EQ(reused, pte_page);
    *target = *m.alloc.Allocate(mem::FrameUse::kData, "attacker_target");
    // A crafted PTE for the next page (va + 4 KiB, never translated before:
    // no IOTLB entry), P | R/W, U/S=0, A clear.
    m.Write64(reused + 8 * arch::TableIndex(va + 4096, 1), target->value() | 0x3);
    return huge;
  }
};

TEST(VtdSeedBug1, StalePdeCacheWalksReusedFrameWithoutKvaFlush) {
  SeedBug b;
  b.Arrange();
  PhysAddr target;
  b.FreeAndReuse(&target);
  b.m.sim.violations().Clear();

  VtdResult r = b.m.Dma(b.va.value() + 4096 + 0x40, false, true);
  ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
  EXPECT_EQ(r.pa, target + 0x40) << "the translation went through the crafted entry";
  EXPECT_EQ(b.m.Stat("pde_cache.hits"), 1u) << "the stale PDE-cache entry started the walk";
  auto& log = b.m.sim.violations();
  EXPECT_EQ(log.Count(ViolationKind::kWalkThroughReusedFrame), 1);
  // Setting A in the crafted PTE writes into the attacker's data frame.
  EXPECT_EQ(log.Count(ViolationKind::kAdWriteToNonTableFrame), 1);
  const auto v = log.violations();
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0].agent, Agent::Iommu(0));
  EXPECT_EQ(v[0].frame, b.pte_page);
  EXPECT_STREQ(v[0].free.tag, "pmd_free_pte_page");
  EXPECT_STREQ(v[0].alloc.tag, "attacker_spray");
}

TEST(VtdSeedBug1, PasidFlushWithIhZeroAtKernelTlbFlushPreventsTheStaleWalk) {
  SeedBug b;
  b.Arrange();
  // The fix: every kernel TLB flush invalidates the range on the bound
  // PASID, IH=0 because page-table pages may be freed.
  b.m.kernel->kspace().AddFlushListener([&](VirtAddr start, VirtAddr end) {
    EXPECT_TRUE(b.m.drv->FlushPasidRange(DomainId(kDid), Pasid(kPasid), start, end,
                                         /*page_tables_freed=*/true).ok());
  });
  PhysAddr target;
  const PhysAddr huge = b.FreeAndReuse(&target);
  b.m.sim.violations().Clear();

  VtdResult r = b.m.Dma(b.va.value() + 4096 + 0x40, false, true);
  ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
  EXPECT_EQ(r.pa, huge + 4096 + 0x40) << "a fresh walk finds the 2 MiB leaf";
  EXPECT_EQ(r.page_shift, 21);
  EXPECT_EQ(b.m.sim.violations().total(), 0);
  EXPECT_EQ(b.m.Stat("pde_cache.hits"), 0u);
}

TEST(VtdSeedBug1, IhOneFlushKeepsThePdeAndStillWalksTheReusedFrame) {
  SeedBug b;
  b.Arrange();
  // A driver that claims no table was freed (IH=1) keeps the PDE cached.
  b.m.kernel->kspace().AddFlushListener([&](VirtAddr start, VirtAddr end) {
    EXPECT_TRUE(b.m.drv->FlushPasidRange(DomainId(kDid), Pasid(kPasid), start, end,
                                         /*page_tables_freed=*/false).ok());
  });
  PhysAddr target;
  b.FreeAndReuse(&target);
  b.m.sim.violations().Clear();
  VtdResult r = b.m.Dma(b.va.value() + 4096, false, true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pa, target);
  EXPECT_EQ(b.m.sim.violations().Count(ViolationKind::kWalkThroughReusedFrame), 1);
}

}  // namespace
}  // namespace svaemu::hw::vtd
