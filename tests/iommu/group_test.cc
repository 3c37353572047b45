// iommu_group: a PASID attach is for the whole group.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iommu/fake_iommu_testutil.h"

namespace svaemu::kernel {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

TEST(IommuGroup, DevicesGetAGroupOfTheirOwnByDefault) {
  SvaMachine m;
  Device& a = m.NewDevice("a", 0x10);
  Device& b = m.NewDevice("b", 0x18);
  EXPECT_NE(a.group(), b.group());
  EXPECT_EQ(a.group()->devices().size(), 1u);
}

TEST(IommuGroup, BindingOneDeviceAttachesTheWholeGroup) {
  SvaMachine m;
  Device& a = m.NewDevice("a", 0x10, {.pri = true}, /*group=*/7);
  Device& b = m.NewDevice("b", 0x18, {.pri = true}, /*group=*/7);
  ASSERT_EQ(a.group(), b.group());
  Mm& mm = m.NewMm();
  AttachHandle* h = *m.sva->Bind(a, mm);
  // Both devices were programmed, one handle serves the group.
  EXPECT_THAT(m.fake.log, Contains(HasSubstr("set a 1")));
  EXPECT_THAT(m.fake.log, Contains(HasSubstr("set b 1")));
  EXPECT_EQ(b.handle(h->pasid()), h);
  EXPECT_EQ(h->domain()->users(), 2);
  // Binding the other device of the group to the same mm is the same bind.
  EXPECT_EQ(*m.sva->Bind(b, mm), h);
  EXPECT_EQ(h->users(), 2);
  // A fault of either device is routed to the group's handle.
  IopfQueue& q = *m.core.iopf_queue(0);
  VirtAddr va = *mm.Mmap(kPageSize4K, kProtRead | kProtWrite, false);
  IopfFault f;
  f.flags = kIopfPasidValid | kIopfLastPage;
  f.pasid = h->pasid();
  f.perm = kIopfPermWrite;
  f.addr = va;
  q.ReportFault(b.id(), f);
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.fake.responses.size(), 1u);
  EXPECT_EQ(m.fake.responses[0].code, PageResponseCode::kSuccess);
  ASSERT_TRUE(m.sva->Unbind(h).ok());
  ASSERT_TRUE(m.sva->Unbind(h).ok());
  EXPECT_THAT(m.fake.log, Contains(HasSubstr("remove a 1")));
  EXPECT_THAT(m.fake.log, Contains(HasSubstr("remove b 1")));
  EXPECT_EQ(a.handle(h->pasid()), nullptr);
  EXPECT_EQ(mm.count(), 1);
}

TEST(IommuGroup, AnotherMmOnTheOtherDeviceOfTheGroupIsEbusy) {
  SvaMachine m;
  Device& a = m.NewDevice("a", 0x10, {.pri = true}, 3);
  Device& b = m.NewDevice("b", 0x18, {.pri = true}, 3);
  Mm& x = m.NewMm();
  ASSERT_TRUE(m.sva->Bind(a, x).ok());
  Domain* other = *m.core.AllocSvaDomain(b, x);
  EXPECT_EQ(m.core.AttachDevicePasid(*other, b, Pasid(1)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(IommuGroup, AttachIsAllOrNone) {
  SvaMachine m;
  Device& a = m.NewDevice("a", 0x10, {.pri = true}, 4);
  m.NewDevice("b", 0x18, {.pri = true}, 4);
  m.fake.fail_set_for = "b";
  Mm& mm = m.NewMm();
  EXPECT_EQ(m.sva->Bind(a, mm).status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(m.fake.log, Contains(HasSubstr("remove a 1")));  // undone
  EXPECT_EQ(a.handle(Pasid(1)), nullptr);
  EXPECT_EQ(mm.count(), 1);  // the domain went, with its mmgrab
}

TEST(IommuGroup, NoNewDeviceJoinsAGroupWithPasidsAttached) {
  SvaMachine m;
  Device& a = m.NewDevice("a", 0x10, {.pri = true}, 5);
  Mm& mm = m.NewMm();
  ASSERT_TRUE(m.sva->Bind(a, mm).ok());
  EXPECT_EQ(m.core.ProbeDevice("late", 0, StreamId(0x20), {}, 5).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace svaemu::kernel
