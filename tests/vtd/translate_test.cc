// First-stage translation of requests with PASID through a bound mm:
// rights, sizes, levels, A/D, and the inline IOTLB hit path.
#include "gtest/gtest.h"
#include "svaemu/arch/x86_64.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::VtdMachine;

constexpr uint8_t kRw = kernel::kProtRead | kernel::kProtWrite;

TEST(VtdFirstStage, TranslatesUserPageThenHitsIotlbInline) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, /*populate=*/true);
  m.Bind(mm);
  VtdResult r = m.Dma(va.value() + 0x10);
  ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
  EXPECT_EQ(r.pa, mm.Lookup(va)->pa + 0x10);
  EXPECT_EQ(m.Stat("walks"), 1u);
  // 1 context + 1 PASID fetch + 1 IOTLB miss per size + a 4-level walk:
  // more than two lookups' worth.
  EXPECT_GT(r.cycles, 8u);
  const uint64_t slow = m.Stat("translate.slow");
  r = m.Dma(va.value() + 0x20);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.cycles, 8u) << "inline hit: PASID cache + IOTLB lookups";
  EXPECT_EQ(m.Stat("translate.slow"), slow) << "served by the inline path";
  EXPECT_EQ(m.Stat("walks"), 1u);
  EXPECT_EQ(m.Stat("iotlb.hits"), 1u);
}

TEST(VtdFirstStage, WriteToCleanPageWalksAgainToSetDirty) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm);
  ASSERT_TRUE(m.Dma(va.value()).ok);
  const uint64_t pte_before = mm.Lookup(va)->leaf_entry;
  ASSERT_TRUE(m.Dma(va.value(), /*write=*/true).ok);
  EXPECT_EQ(m.Stat("walks"), 2u) << "the cached entry is clean: a write re-walks";
  EXPECT_TRUE(Bit(mm.Lookup(va)->leaf_entry, arch::X86Entry::kD));
  EXPECT_FALSE(Bit(pte_before, arch::X86Entry::kD));
  ASSERT_TRUE(m.Dma(va.value(), true).ok);
  EXPECT_EQ(m.Stat("walks"), 2u) << "now dirty: the write hits";
}

TEST(VtdFirstStage, UserRequestToSupervisorPageFaultsAndIsRecorded) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm, {.sre = true});
  VirtAddr kva = *m.kernel->kspace().Vmalloc(4096);
  VtdResult r = m.Dma(kva.value());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.fault, FaultReason::kUserToSupervisor);
  EXPECT_TRUE(r.recorded);
  r = m.Dma(kva.value(), false, /*priv=*/true);
  EXPECT_TRUE(r.ok) << "supervisor request with SRE reaches the kernel half";
  m.drv->SynchronizeIrqs();
  ASSERT_EQ(m.drv->faults().size(), 1u);
  EXPECT_EQ(m.drv->faults()[0].reason, FaultReason::kUserToSupervisor);
  EXPECT_EQ(m.drv->faults()[0].pasid, testing::kPasid);
  EXPECT_EQ(m.drv->faults()[0].addr, kva.value());
}

TEST(VtdFirstStage, SupervisorRequestWithoutSreFaults) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm);
  EXPECT_EQ(m.Dma(va.value(), false, /*priv=*/true).fault, FaultReason::kPasidSreClear);
}

TEST(VtdFirstStage, WriteToReadOnlyAndExecuteOfXdPageFault) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr ro = *mm.Mmap(4096, kernel::kProtRead, true);
  m.Bind(mm, {.ere = true});
  EXPECT_EQ(m.Dma(ro.value(), /*write=*/true).fault, FaultReason::kWriteDenied);
  EXPECT_EQ(m.Dma(ro.value(), false, false, /*exec=*/true).fault, FaultReason::kExecuteDenied);
  EXPECT_TRUE(m.Dma(ro.value()).ok);
}

TEST(VtdFirstStage, ExecuteRequestWithoutEreFaults) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw | kernel::kProtExec, true);
  m.Bind(mm);
  EXPECT_EQ(m.Dma(va.value(), false, false, true).fault, FaultReason::kPasidEreClear);
}

TEST(VtdFirstStage, NonCanonicalAndUnmappedAddressesFault) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm);
  EXPECT_EQ(m.Dma(0x0000800000000000ull).fault, FaultReason::kNonCanonical);
  EXPECT_EQ(m.Dma(0x10000000).fault, FaultReason::kFsNotPresent);
}

TEST(VtdFirstStage, HugePagesUseTheirOwnIotlbArrays) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm, {.sre = true});
  kernel::KernelSpace& ks = m.kernel->kspace();
  PhysAddr p2m = *m.alloc.AllocateContiguous(512, kPageSize2M, mem::FrameUse::kData, "t");
  VirtAddr v2m = *ks.VmapHuge(p2m, kPageSize2M, kPageSize2M);
  PhysAddr p1g = *m.alloc.AllocateContiguous(512 * 512, kPageSize1G, mem::FrameUse::kData, "t");
  VirtAddr v1g = *ks.VmapHuge(p1g, kPageSize1G, kPageSize1G);
  // Until the PASID has a large leaf cached, a miss probes only the 4 KiB
  // array (one IOTLB miss); afterwards all three arrays (three misses).
  VirtAddr small = *ks.Vmalloc(2 * 4096);
  uint64_t misses = m.Stat("iotlb.misses");
  ASSERT_TRUE(m.Dma(small.value(), false, true).ok);
  EXPECT_EQ(m.Stat("iotlb.misses"), misses + 1);
  VtdResult r = m.Dma(v2m.value() + 0x12345, false, true);
  ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
  EXPECT_EQ(r.pa, p2m + 0x12345);
  EXPECT_EQ(r.page_shift, 21);
  r = m.Dma(v1g.value() + 0x3456789, false, true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pa, p1g + 0x3456789);
  EXPECT_EQ(r.page_shift, 30);
  const uint64_t walks = m.Stat("walks");
  EXPECT_TRUE(m.Dma(v2m.value() + 0x1fff00, false, true).ok);
  EXPECT_TRUE(m.Dma(v1g.value() + 0x3fff0000, false, true).ok);
  EXPECT_EQ(m.Stat("walks"), walks) << "both served by the 2 MiB / 1 GiB arrays";
  misses = m.Stat("iotlb.misses");
  ASSERT_TRUE(m.Dma(small.value() + 4096, false, true).ok);
  EXPECT_EQ(m.Stat("iotlb.misses"), misses + 3);
}

TEST(VtdFirstStage, FiveLevelPasidWalksFiveLevels) {
  VtdMachine m({}, kernel::KernelPtFreePolicy::kImmediate, arch::PtFormat::kX86_5Level);
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm, {.levels = 5});
  VtdResult r = m.Dma(va.value());
  ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
  EXPECT_EQ(r.pa, mm.Lookup(va)->pa);
  // 5 entry reads at mem_read each, plus lookups and configuration fetch.
  EXPECT_EQ(m.sim.violations().total(), 0);
  EXPECT_EQ(m.Dma(0x0080000000000000ull).fault, FaultReason::kFsNotPresent)
      << "canonical with 57 bits, absent";
}

TEST(VtdFirstStage, RequestWithoutPasidUsesRidPasid) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  VirtAddr va = *mm.Mmap(4096, kRw, true);
  m.Bind(mm, {}, {.rid_pasid = testing::kPasid});
  VtdResult r = m.Dma(va.value(), false, false, false, testing::kSid, 0, /*has_pasid=*/false);
  ASSERT_TRUE(r.ok) << FaultReasonName(r.fault);
  EXPECT_EQ(r.pa, mm.Lookup(va)->pa);
}

TEST(VtdFirstStage, TranslationDisabledPassesAddressesThrough) {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  auto v = Vtd::Create(sim, mem);
  ASSERT_TRUE(v.ok());
  VtdResult r = (*v)->Translate(VtdRequest{.sid = 1, .addr = 0x1234});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.pa, PhysAddr(0x1234));
}

}  // namespace
}  // namespace svaemu::hw::vtd
