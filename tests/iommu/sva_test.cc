// IOMMU core and SVA bind/unbind rules, against a scripted driver.
#include "svaemu/kernel/sva/sva.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iommu/fake_iommu_testutil.h"
#include "svaemu/arch/x86_64.h"

namespace svaemu::kernel {
namespace {

using check::ViolationKind;
using ::testing::ElementsAre;

constexpr uint8_t kRw = kProtRead | kProtWrite;

TEST(SvaBind, FirstBindAllocatesPasidDomainAndTakesOneMmCount) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  absl::StatusOr<AttachHandle*> h = m.sva->Bind(dev, mm);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ((*h)->pasid(), Pasid(1));
  EXPECT_EQ(dev.handle(Pasid(1)), *h);
  EXPECT_EQ(mm.count(), 2);  // the mm's own + the SVA domain's mmgrab
  EXPECT_EQ(mm.users(), 1);  // bind never takes mm_users
  EXPECT_TRUE(m.sva->present());
  EXPECT_THAT(m.sva->sva_mms(), ElementsAre(m.sva->mm_data(mm)));
  EXPECT_EQ(m.sva->PasidOwner(Pasid(1)), &mm);
}

TEST(SvaBind, HandlesAreRefcountedPerDeviceAndMm) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  AttachHandle* a = *m.sva->Bind(dev, mm);
  AttachHandle* b = *m.sva->Bind(dev, mm);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->users(), 2);
  ASSERT_TRUE(m.sva->Unbind(a).ok());
  EXPECT_FALSE(a->freed());
  EXPECT_EQ(dev.handle(Pasid(1)), a);
  ASSERT_TRUE(m.sva->Unbind(a).ok());
  EXPECT_TRUE(a->freed());
  EXPECT_EQ(dev.handle(Pasid(1)), nullptr);
  EXPECT_EQ(mm.count(), 1);
  EXPECT_FALSE(m.sva->present());
  // The third unbind uses a freed handle: reported and refused.
  EXPECT_EQ(m.sva->Unbind(a).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kKernelObjectUseAfterFree), 1);
}

TEST(SvaBind, OneDomainPerMmAndUnitSharedByDevices) {
  SvaMachine m;
  Device& d0 = m.NewDevice("dev0", 0x10);
  Device& d1 = m.NewDevice("dev1", 0x11);
  Mm& mm = m.NewMm();
  AttachHandle* h0 = *m.sva->Bind(d0, mm);
  AttachHandle* h1 = *m.sva->Bind(d1, mm);
  EXPECT_NE(h0, h1);
  EXPECT_EQ(h0->domain(), h1->domain());
  EXPECT_EQ(h0->pasid(), h1->pasid());  // the mm has one PASID everywhere
  EXPECT_EQ(h0->domain()->users(), 2);
  EXPECT_EQ(mm.count(), 2);  // one domain, one mmgrab
  ASSERT_TRUE(m.sva->Unbind(h0).ok());
  EXPECT_FALSE(h1->domain()->freed());
  ASSERT_TRUE(m.sva->Unbind(h1).ok());
  EXPECT_TRUE(h1->domain()->freed());
  EXPECT_EQ(mm.count(), 1);
}

TEST(SvaBind, SecondMmAtAPasidInUseIsAlreadyExists) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& a = m.NewMm();
  Mm& b = m.NewMm();
  ASSERT_TRUE(m.sva->Bind(dev, a).ok());  // PASID 1
  // Something else (a paging domain of another user) sits at PASID 2.
  Domain* other = *m.core.AllocSvaDomain(dev, a);
  ASSERT_TRUE(m.core.AttachDevicePasid(*other, dev, Pasid(2)).ok());
  EXPECT_EQ(m.sva->Bind(dev, b).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(SvaBind, PasidExhaustionAndDeviceWidthArePreciseErrors) {
  SvaMachine m;
  Device& narrow = m.NewDevice("narrow", 0x10, {.pasid_bits = 1});  // PASIDs < 2
  Device& wide = m.NewDevice("wide", 0x11);
  Mm& a = m.NewMm();
  Mm& b = m.NewMm();
  Mm& c = m.NewMm();
  ASSERT_EQ((*m.sva->Bind(narrow, a))->pasid(), Pasid(1));
  EXPECT_EQ(m.sva->Bind(narrow, b).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ((*m.sva->Bind(wide, c))->pasid(), Pasid(2));
  // c's PASID does not fit the narrow device.
  EXPECT_EQ(m.sva->Bind(narrow, c).status().code(), absl::StatusCode::kOutOfRange);
  Device& none = m.NewDevice("no-pasid", 0x12, {.pasid_bits = 0});
  EXPECT_EQ(m.sva->Bind(none, a).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SvaBind, FreedPasidIsReusedLowestFirst) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& a = m.NewMm();
  Mm& b = m.NewMm();
  AttachHandle* ha = *m.sva->Bind(dev, a);
  ASSERT_EQ((*m.sva->Bind(dev, b))->pasid(), Pasid(2));
  ASSERT_TRUE(m.sva->Unbind(ha).ok());
  ASSERT_TRUE(a.Put().ok());  // exit + mmdrop: PASID 1 is free again
  Mm& c = m.NewMm();
  EXPECT_EQ((*m.sva->Bind(dev, c))->pasid(), Pasid(1));
}

// mm_users / mm_count under bind, unbind and exit, in every order.
TEST(SvaLifetime, BindUnbindThenExitFreesPasidAtMmdrop) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  AttachHandle* h = *m.sva->Bind(dev, mm);
  ASSERT_TRUE(m.sva->Unbind(h).ok());
  EXPECT_TRUE(m.core.pasids().allocated(Pasid(1)));  // still the mm's
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_TRUE(mm.freed());
  EXPECT_FALSE(m.core.pasids().allocated(Pasid(1)));
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(SvaLifetime, ExitWhileBoundKeepsPasidUntilUnbind) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  AttachHandle* h = *m.sva->Bind(dev, mm);
  auto* dom = static_cast<FakeSvaDomain*>(h->domain());
  ASSERT_TRUE(mm.Put().ok());  // the process exits, still bound
  EXPECT_EQ(dom->releases, 1);  // the driver stopped DMA in release
  EXPECT_TRUE(mm.exited());
  EXPECT_FALSE(mm.freed());     // the domain's mm_count
  EXPECT_TRUE(m.core.pasids().allocated(Pasid(1)));
  ASSERT_TRUE(m.sva->Unbind(h).ok());
  EXPECT_TRUE(mm.freed());
  EXPECT_FALSE(m.core.pasids().allocated(Pasid(1)));
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(SvaLifetime, FreeAtExitPolicyFreesPasidAtExitOnce) {
  SvaMachine m({.pasid_lifetime = PasidLifetime::kFreeAtExit});
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  AttachHandle* h = *m.sva->Bind(dev, mm);
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_FALSE(m.core.pasids().allocated(Pasid(1)));  // the 2022 bug
  EXPECT_EQ(m.sva->PasidOwner(Pasid(1)), nullptr);
  ASSERT_TRUE(m.sva->Unbind(h).ok());  // __mmdrop must not free it again
  EXPECT_TRUE(mm.freed());
  EXPECT_EQ(m.core.pasids().in_use(), 0u);
}

TEST(SvaLifetime, FreeAtExitLetsAnotherMmTakeTheSlotOver) {
  SvaMachine m({.pasid_lifetime = PasidLifetime::kFreeAtExit});
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& a = m.NewMm();
  Mm& b = m.NewMm();
  AttachHandle* ha = *m.sva->Bind(dev, a);
  ASSERT_TRUE(a.Put().ok());
  AttachHandle* hb = *m.sva->Bind(dev, b);
  EXPECT_EQ(hb->pasid(), ha->pasid());
  EXPECT_TRUE(ha->freed());
  EXPECT_THAT(m.fake.log, ::testing::Contains(::testing::HasSubstr("replacing")));
  EXPECT_TRUE(a.freed());  // its domain went with the slot
  // With the fix, the same sequence gives b its own PASID.
  SvaMachine fixed;
  Device& dev2 = fixed.NewDevice("dev0", 0x10);
  Mm& a2 = fixed.NewMm();
  Mm& b2 = fixed.NewMm();
  AttachHandle* ha2 = *fixed.sva->Bind(dev2, a2);
  ASSERT_TRUE(a2.Put().ok());
  AttachHandle* hb2 = *fixed.sva->Bind(dev2, b2);
  EXPECT_NE(hb2->pasid(), ha2->pasid());
}

TEST(SvaLifetime, TwoDevicesWithExitBetweenUnbinds) {
  SvaMachine m;
  Device& d0 = m.NewDevice("dev0", 0x10);
  Device& d1 = m.NewDevice("dev1", 0x11);
  Mm& mm = m.NewMm();
  AttachHandle* h0 = *m.sva->Bind(d0, mm);
  AttachHandle* h1 = *m.sva->Bind(d1, mm);
  ASSERT_TRUE(m.sva->Unbind(h0).ok());
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_FALSE(mm.freed());
  ASSERT_TRUE(m.sva->Unbind(h1).ok());
  EXPECT_TRUE(mm.freed());
  EXPECT_EQ(m.core.pasids().in_use(), 0u);
}

TEST(SvaLifetime, BindAfterExitIsRefused) {
  SvaMachine m;
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  ASSERT_TRUE(mm.Grab().ok());
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_EQ(m.sva->Bind(dev, mm).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(mm.Drop().ok());
}

TEST(SvaKva, InvalidateIsANoOpUntilSomethingIsBound) {
  SvaMachine m;
  m.sva->InvalidateKvaRange(VirtAddr(0xffff800000000000ull), VirtAddr(~0ull));
  EXPECT_EQ(m.sva->kva_invalidations(), 0u);
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  AttachHandle* h = *m.sva->Bind(dev, mm);
  auto* dom = static_cast<FakeSvaDomain*>(h->domain());
  m.sva->InvalidateKvaRange(VirtAddr(0xffffc90000000000ull), VirtAddr(0xffffc90000001000ull));
  EXPECT_EQ(m.sva->kva_invalidations(), 1u);
  EXPECT_THAT(dom->invalidations,
              ElementsAre(std::make_pair(VirtAddr(0xffffc90000000000ull),
                                         VirtAddr(0xffffc90000001000ull))));
}

// Frees one kernel PTE page through a huge vmap promotion.
void FreeKernelPtePage(SvaMachine& m) {
  KernelSpace& ks = m.kernel->kspace();
  VirtAddr va = *ks.Vmalloc(kPageSize4K);
  ASSERT_TRUE(ks.Vfree(va).ok());
  PhysAddr huge = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "t");
  ASSERT_EQ(*ks.VmapHuge(huge, kPageSize2M, kPageSize2M), va);
}

TEST(SvaKva, PerFlushInvalidatesEveryBoundMmAtEachKernelFlush) {
  SvaMachine m({.kva_invalidation = KvaInvalidation::kPerFlush});
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& a = m.NewMm();
  Mm& b = m.NewMm();
  auto* da = static_cast<FakeSvaDomain*>((*m.sva->Bind(dev, a))->domain());
  auto* db = static_cast<FakeSvaDomain*>((*m.sva->Bind(dev, b))->domain());
  FreeKernelPtePage(m);  // vfree flush + pmd_free_pte_page flush
  EXPECT_EQ(m.kernel->kspace().tlb_flushes(), 2u);
  EXPECT_EQ(m.sva->kva_invalidations(), 2u);
  EXPECT_EQ(da->invalidations.size(), 2u);
  EXPECT_EQ(db->invalidations.size(), 2u);
}

TEST(SvaKva, DeferredBatchInvalidatesWholeKernelRangeOnceBeforeTheFree) {
  SvaMachine m({.kva_invalidation = KvaInvalidation::kDeferredBatch});
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  auto* dom = static_cast<FakeSvaDomain*>((*m.sva->Bind(dev, mm))->domain());
  FreeKernelPtePage(m);
  EXPECT_EQ(m.sva->kva_invalidations(), 0u);  // not yet: the worker runs later
  EXPECT_EQ(m.kernel->pt_free().pending(), 1u);
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(m.sva->kva_invalidations(), 1u);
  ASSERT_EQ(dom->invalidations.size(), 1u);
  EXPECT_EQ(dom->invalidations[0].first, m.kernel->kspace().layout().kernel_start);
  EXPECT_EQ(dom->invalidations[0].second, VirtAddr(~0ull));
  EXPECT_EQ(m.kernel->pt_free().pages_freed(), 1u);
}

TEST(SvaKva, NonePolicyNeverInvalidates) {
  SvaMachine m({.kva_invalidation = KvaInvalidation::kNone});
  Device& dev = m.NewDevice("dev0", 0x10);
  Mm& mm = m.NewMm();
  ASSERT_TRUE(m.sva->Bind(dev, mm).ok());
  FreeKernelPtePage(m);
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(m.sva->kva_invalidations(), 0u);
  EXPECT_EQ(m.kernel->pt_free().pages_freed(), 1u);
}

TEST(SvaKva, UserOnlyRootHoldsOnlyTheUserHalfAndFollowsIt) {
  SvaMachine m({.kva_invalidation = KvaInvalidation::kUserOnlyRoot});
  Mm& mm = m.NewMm();
  PhysAddr root = *mm.EnableUserOnlyRoot();
  const mem::Access a = mem::Access::Cpu();
  for (uint64_t i = 256; i < 512; ++i) EXPECT_EQ(m.mem.Read64(root + i * 8, a), 0u);
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/true);
  arch::WalkOptions opts;
  opts.space = mm.space();
  arch::WalkResult r = arch::WalkX86(m.mem, root, {.levels = 4}, va, {}, opts);
  ASSERT_TRUE(r.ok()) << r.fault;
  VirtAddr kva = *m.kernel->kspace().Vmalloc(kPageSize4K);
  arch::AccessType priv;
  priv.user = false;
  r = arch::WalkX86(m.mem, root, {.levels = 4}, kva, priv, opts);
  EXPECT_EQ(r.fault, arch::FaultKind::kNotPresent);
  EXPECT_EQ(r.level, 4);
  ASSERT_TRUE(mm.Munmap(va, kPageSize4K).ok());
  EXPECT_EQ(m.mem.Read64(root + arch::TableIndex(va, 4) * 8, a), 0u);
  ASSERT_TRUE(mm.Put().ok());
  EXPECT_EQ(m.mem.Meta(root).use, mem::FrameUse::kFree);
  EXPECT_EQ(m.sim.violations().total(), 0);
}

}  // namespace
}  // namespace svaemu::kernel
