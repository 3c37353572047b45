// A RID domain and SVA binds at PASIDs on the same device: both translate,
// and changing one leaves the other alone (SMMUv3 keeps the CD table).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "domains/domains_testutil.h"

namespace svaemu::testing {
namespace {

using hw::pci::DmaOutcome;
using hw::smmuv3::Ste;
using kernel::kIommuRead;
using kernel::kIommuWrite;

constexpr VirtAddr kIova(0x1000'0000);

class RidAndPasid : public ::testing::TestWithParam<Arch> {
 protected:
  // A process with one populated page, bound to device 0.
  void Bind(Rig& r) {
    mm_ = *r.p->NewProcess();
    va_ = *mm_->Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);
    absl::StatusOr<kernel::AttachHandle*> h = r.p->sva().Bind(r.dev(), *mm_);
    ASSERT_TRUE(h.ok()) << h.status();
    handle_ = *h;
  }
  uint8_t ProcessByte(VirtAddr va) {
    std::vector<uint8_t> b(1);
    EXPECT_TRUE(mm_->Read(va, b).ok());
    return b[0];
  }
  kernel::Mm* mm_ = nullptr;
  VirtAddr va_;
  kernel::AttachHandle* handle_ = nullptr;
};
INSTANTIATE_TEST_SUITE_P(BothPlatforms, RidAndPasid,
                         ::testing::Values(Arch::kX86_64, Arch::kArm64), ArchName);

TEST_P(RidAndPasid, PagingAtRidAndSvaAtPasidBothTranslate) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  ASSERT_TRUE(r.core().Map(*d, kIova, buf, kPageSize4K, kIommuRead | kIommuWrite).ok());
  ASSERT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  Bind(r);
  EXPECT_EQ(handle_->pasid(), Pasid(1));

  ASSERT_EQ(r.Write(kIova, 0x41).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf), 0x41);
  ASSERT_EQ(r.Write(va_, 0x42, handle_->pasid()).outcome, DmaOutcome::kDone);
  EXPECT_EQ(ProcessByte(va_), 0x42);
  if (r.arm()) {
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
    EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSSsid0);
  }

  // Unbinding the PASID leaves the RID domain working (and the STE's CD
  // table: CD 0 is the paging domain's).
  ASSERT_TRUE(r.p->sva().Unbind(handle_).ok());
  ASSERT_EQ(r.Write(kIova, 0x43).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf), 0x43);
  if (r.arm()) { EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSSsid0); }
  EXPECT_EQ(r.DriverFaults(), 0u);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAndPasid, DetachingTheRidDomainKeepsThePasidWorking) {
  Rig r(GetParam());
  Bind(r);  // on a blocked RID: SMMUv3 upgrades the abort STE
  if (r.arm()) {
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
    EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSTerminate);
  }
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf = r.Buffer();
  ASSERT_TRUE(r.core().Map(*d, kIova, buf, kPageSize4K, kIommuRead | kIommuWrite).ok());
  ASSERT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  ASSERT_EQ(r.Write(kIova, 1).outcome, DmaOutcome::kDone);
  ASSERT_EQ(r.Write(va_, 2, handle_->pasid()).outcome, DmaOutcome::kDone);

  ASSERT_TRUE(r.core().DetachDevice(*d, r.dev()).ok());
  EXPECT_EQ(r.Write(kIova, 3).outcome, DmaOutcome::kAborted);
  ASSERT_EQ(r.Write(va_, 4, handle_->pasid()).outcome, DmaOutcome::kDone);
  EXPECT_EQ(ProcessByte(va_), 4);
  if (r.arm()) {
    // Blocked with a PASID in use: CD table kept, S1DSS = terminate, CD 0
    // cleared; the no-PASID DMA is F_STREAM_DISABLED.
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
    EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSTerminate);
    EXPECT_FALSE(r.p->smmu_driver(0)->ReadCd(r.dev().id().rid, 0)->Flag(hw::smmuv3::Cd::kV));
    ASSERT_EQ(r.DriverFaults(), 1u);
    EXPECT_EQ(r.p->smmu_driver(0)->events_seen()[0].type,
              hw::smmuv3::EventType::kFStreamDisabled);
  } else {
    EXPECT_EQ(r.DriverFaults(), 1u);
  }
  // The last PASID gone: SMMUv3 goes back to an abort STE.
  ASSERT_TRUE(r.p->sva().Unbind(handle_).ok());
  if (r.arm()) { EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigAbort); }
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAndPasid, IdentityAtRidAndSvaAtPasidBothTranslate) {
  Rig r(GetParam());
  kernel::Domain* id = *r.core().IdentityDomain(r.dev());
  ASSERT_TRUE(r.core().AttachDevice(*id, r.dev()).ok());
  Bind(r);
  if (r.arm()) {
    // Identity with PASIDs: the CD table stays, S1DSS = bypass.
    EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
    EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSBypass);
  }
  const PhysAddr buf = r.Buffer();
  ASSERT_EQ(r.Write(VirtAddr(buf.value()), 5).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf), 5);
  ASSERT_EQ(r.Write(va_, 6, handle_->pasid()).outcome, DmaOutcome::kDone);
  EXPECT_EQ(ProcessByte(va_), 6);
  ASSERT_TRUE(r.p->sva().Unbind(handle_).ok());
  if (r.arm()) { EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigBypass); }
  ASSERT_EQ(r.Write(VirtAddr(buf.value()), 7).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf), 7);
  EXPECT_EQ(r.Violations(), 0);
}

TEST_P(RidAndPasid, ReplacingTheRidDomainDoesNotDisturbThePasid) {
  Rig r(GetParam());
  Bind(r);
  kernel::PagingDomain* a = *r.core().AllocPagingDomain(r.dev());
  kernel::Domain* id = *r.core().IdentityDomain(r.dev());
  ASSERT_TRUE(r.core().AttachDevice(*a, r.dev()).ok());
  ASSERT_TRUE(r.core().ReplaceDevice(*id, r.dev()).ok());
  if (r.arm()) { EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSBypass); }
  const PhysAddr buf = r.Buffer();
  ASSERT_EQ(r.Write(VirtAddr(buf.value()), 8).outcome, DmaOutcome::kDone);
  ASSERT_EQ(r.Write(va_, 9, handle_->pasid()).outcome, DmaOutcome::kDone);
  EXPECT_EQ(ProcessByte(va_), 9);
  EXPECT_EQ(r.Violations(), 0);
}

}  // namespace
}  // namespace svaemu::testing
