// The IO page-fault rules: grouping, routing through the attach handle, the
// SVA handler, exactly one response per group, flush, discard, removal.
#include "svaemu/kernel/iopf/iopf_queue.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iommu/fake_iommu_testutil.h"

namespace svaemu::kernel {
namespace {

using check::ViolationKind;

constexpr uint8_t kRw = kProtRead | kProtWrite;

IopfFault Fault(Pasid pasid, VirtAddr addr, uint32_t grpid, bool last,
                uint32_t perm = kIopfPermWrite) {
  IopfFault f;
  f.flags = kIopfPasidValid | (last ? kIopfLastPage : 0);
  f.pasid = pasid;
  f.grpid = grpid;
  f.perm = perm;
  f.addr = addr;
  return f;
}

struct IopfFixture : ::testing::Test {
  IopfFixture()
      : dev(m.NewDevice("dev0", 0x10)), mm(m.NewMm()),
        handle(*m.sva->Bind(dev, mm)), q(*m.core.iopf_queue(0)) {}
  SvaMachine m;
  Device& dev;
  Mm& mm;
  AttachHandle* handle;
  IopfQueue& q;
};

TEST_F(IopfFixture, LastPageFaultIsResolvedByTheWorkerAndAnsweredOnce) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va + 8, 7, true));
  EXPECT_EQ(q.outstanding(), 1u);
  EXPECT_TRUE(m.fake.responses.empty());  // the handler only queues work
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].grpid, 7u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kSuccess);
  EXPECT_TRUE(mm.Lookup(va).has_value());
  EXPECT_TRUE(mm.Lookup(va)->perms.write);
  EXPECT_EQ(mm.users(), 1);  // mmget_not_zero/mmput balanced
  EXPECT_EQ(q.outstanding(), 0u);
  EXPECT_EQ(q.groups_reported(), q.responses());
}

TEST_F(IopfFixture, PartialFaultsWaitAndCompleteWithTheirGroup) {
  VirtAddr va = *mm.Mmap(3 * kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 5, false));
  q.ReportFault(dev.id(), Fault(handle->pasid(), va + kPageSize4K, 6, true));  // other group
  q.ReportFault(dev.id(), Fault(handle->pasid(), va + 2 * kPageSize4K, 5, true));
  EXPECT_EQ(q.partial(), 0u);
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.fake.responses.size(), 2u);  // one per group, not per fault
  EXPECT_EQ(m.fake.responses[0].grpid, 6u);
  EXPECT_EQ(m.fake.responses[1].grpid, 5u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(mm.Lookup(va + i * kPageSize4K).has_value());
}

TEST_F(IopfFixture, FaultOutsideAnyVmaIsAnsweredInvalid) {
  q.ReportFault(dev.id(), Fault(handle->pasid(), VirtAddr(0x1000), 1, true));
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kInvalid);
}

TEST_F(IopfFixture, WriteFaultOnReadOnlyVmaIsInvalid) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kProtRead, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, true, kIopfPermWrite));
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 2, true, kIopfPermRead));
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.fake.responses.size(), 2u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kInvalid);
  EXPECT_EQ(m.fake.responses[1].code, PageResponseCode::kSuccess);
}

TEST_F(IopfFixture, FaultOnAnUnboundPasidIsAnsweredInvalidAtOnce) {
  q.ReportFault(dev.id(), Fault(Pasid(77), VirtAddr(0x10000000), 3, true));
  ASSERT_EQ(m.fake.responses.size(), 1u);  // no worker involved
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kInvalid);
  EXPECT_EQ(q.outstanding(), 0u);
}

TEST_F(IopfFixture, FaultOfAnExitedMmIsInvalidBecauseMmgetFails) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, true));
  ASSERT_TRUE(mm.Put().ok());  // exits before the worker runs
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kInvalid);
  EXPECT_EQ(m.sim.violations().total(), 0);  // the domain's mm_count kept it
}

TEST_F(IopfFixture, FlushDeviceAnswersEverythingQueuedBeforeIt) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, true));
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 2, true));
  q.FlushDevice(dev);
  EXPECT_EQ(m.fake.responses.size(), 2u);
  EXPECT_EQ(q.outstanding(), 0u);
  EXPECT_EQ(m.sim.now(), 0u);  // ran now, in virtual time
}

TEST_F(IopfFixture, UnbindFlushesPendingFaultsBeforeFreeingTheHandle) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, true));
  ASSERT_TRUE(m.sva->Unbind(handle).ok());
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kSuccess);
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST_F(IopfFixture, ReplaceWithoutFlushLeavesAWorkerUsingTheFreedHandle) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, true));
  Domain* other = *m.core.AllocSvaDomain(dev, mm);
  ASSERT_TRUE(m.core.ReplaceDevicePasid(*other, dev, handle->pasid()).ok());
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kKernelObjectUseAfterFree), 1);
  auto v = m.sim.violations().violations();
  EXPECT_THAT(v[0].object, ::testing::StartsWith("attach_handle#"));
  // Still answered exactly once.
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kInvalid);
}

TEST_F(IopfFixture, DiscardPartialDropsIncompleteGroups) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 9, false));
  EXPECT_EQ(q.partial(), 1u);
  q.DiscardPartial();
  EXPECT_EQ(q.partial(), 0u);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 9, true));
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(m.fake.responses.size(), 1u);
}

TEST_F(IopfFixture, RemovingTheDeviceAnswersPendingGroups) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, false));
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 2, true));
  ASSERT_TRUE(q.RemoveDevice(dev).ok());
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kInvalid);
  EXPECT_EQ(q.partial(), 0u);
  m.sim.RunUntilIdle(100);
  EXPECT_EQ(m.fake.responses.size(), 1u);  // the worker does not answer again
  EXPECT_EQ(q.RemoveDevice(dev).code(), absl::StatusCode::kNotFound);
  // Faults of a device that left the queue are not routed.
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 3, true));
  EXPECT_EQ(q.unroutable(), 1u);
}

TEST_F(IopfFixture, UnansweredGroupIsReportedByTheEndCheck) {
  VirtAddr va = *mm.Mmap(kPageSize4K, kRw, /*populate=*/false);
  q.ReportFault(dev.id(), Fault(handle->pasid(), va, 1, true));
  EXPECT_EQ(m.core.CheckAllFaultsAnswered(), 1);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kFaultNeverAnswered), 1);
  m.sim.RunUntilIdle(100);
  m.sim.violations().Clear();
  EXPECT_EQ(m.core.CheckAllFaultsAnswered(), 0);
}

TEST_F(IopfFixture, AddingADeviceTwiceIsAlreadyExists) {
  EXPECT_EQ(q.AddDevice(dev).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace svaemu::kernel
