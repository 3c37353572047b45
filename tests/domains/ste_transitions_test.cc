// SMMUv3 STE transitions driven by RID domain changes and PASID binds
// (abort <-> bypass <-> CD table with S1DSS, CD 0 written and cleared): every
// intermediate image the driver writes is invalid or behaves as the old or
// the new entry on the bits the SMMU uses (arm_smmu_write_entry's rule,
// IHI 0070 3.21.3: "a valid STE ... must not be observed in an illegal
// intermediate state"), and a breaking update clears V first.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "domains/domains_testutil.h"
#include "svaemu/kernel/drivers/smmuv3/driver.h"

namespace svaemu::testing {
namespace {

using hw::pci::DmaOutcome;
using hw::smmuv3::Ste;
using kernel::kIommuRead;
using kernel::kIommuWrite;

constexpr VirtAddr kIova(0x3000'0000);

TEST(SteTransitions, EveryRidAndPasidChangeWritesOnlyLegalIntermediateStates) {
  platform::PlatformConfig c;
  Rig r(Arch::kArm64, c);
  kernel::drivers::smmuv3::SmmuV3Driver& drv = *r.p->smmu_driver(0);
  kernel::PagingDomain* a = *r.core().AllocPagingDomain(r.dev());
  kernel::PagingDomain* b = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr buf_a = r.Buffer(), buf_b = r.Buffer();
  ASSERT_TRUE(r.core().Map(*a, kIova, buf_a, kPageSize4K, kIommuRead | kIommuWrite).ok());
  ASSERT_TRUE(r.core().Map(*b, kIova, buf_b, kPageSize4K, kIommuRead | kIommuWrite).ok());
  kernel::Mm* mm = *r.p->NewProcess();
  const VirtAddr va = *mm->Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);

  // After each step: no illegal intermediate image (the driver checks every
  // image it writes against the old and new entry). Counts the STE and CD
  // images written (so the check had something to check) and the STE
  // images with V = 0 (a breaking update parks the entry invalid first).
  int ste_images = 0, cd_images = 0, invalid_ste_images = 0;
  auto step = [&](const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(drv.invariant_failures(), 0u);
    for (const auto& w : drv.write_log()) {
      const bool ste = std::string(w.what) == "ste";
      ++(ste ? ste_images : cd_images);
      if (ste && (w.words[0] & 1) == 0) ++invalid_ste_images;
    }
    drv.clear_write_log();
  };
  drv.clear_write_log();
  // Blocked (abort) -> paging A: abort to a CD-table STE (breaking).
  ASSERT_TRUE(r.core().AttachDevice(*a, r.dev()).ok());
  step("blocked -> paging A");
  EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
  EXPECT_EQ(r.Write(kIova, 1).outcome, DmaOutcome::kDone);
  // Paging A -> paging B: CD 0 changes ASID and TTB0 (a breaking CD update).
  ASSERT_TRUE(r.core().ReplaceDevice(*b, r.dev()).ok());
  step("paging A -> paging B");
  EXPECT_EQ(r.Write(kIova, 2).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf_b), 2);
  // SVA at a PASID beside it, then the RID back to blocked: the CD table
  // stays for the PASID, no-PASID traffic is terminated.
  absl::StatusOr<kernel::AttachHandle*> h = r.p->sva().Bind(r.dev(), *mm);
  ASSERT_TRUE(h.ok()) << h.status();
  step("bind at PASID");
  ASSERT_TRUE(r.core().DetachDevice(*b, r.dev()).ok());
  step("RID back to blocked with a PASID attached");
  EXPECT_EQ(r.Write(va, 3, (*h)->pasid()).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.Write(kIova, 4).outcome, DmaOutcome::kAborted);
  ASSERT_TRUE(r.core().AttachDevice(*a, r.dev()).ok());
  step("RID to paging A with a PASID attached");
  EXPECT_EQ(r.Write(kIova, 5).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf_a), 5);
  // Last PASID gone, then the RID domain detached: CD table -> abort.
  ASSERT_TRUE(r.p->sva().Unbind(*h).ok());
  step("unbind the last PASID");
  ASSERT_TRUE(r.core().DetachDevice(*a, r.dev()).ok());
  step("RID to blocked, no PASID");
  EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigAbort);
  // Identity with no PASID: a bypass STE; then a PASID bind on it turns it
  // into a CD table with S1DSS = bypass.
  kernel::Domain* identity = *r.core().IdentityDomain(r.dev());
  ASSERT_TRUE(r.core().AttachDevice(*identity, r.dev()).ok());
  step("RID to identity");
  EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigBypass);
  h = r.p->sva().Bind(r.dev(), *mm);
  ASSERT_TRUE(h.ok()) << h.status();
  step("bind on an identity RID");
  EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigS1Trans);
  EXPECT_EQ(r.Ste().Get(Ste::kS1DSS), Ste::kS1DSSBypass);
  EXPECT_EQ(r.Write(VirtAddr(buf_a.value()), 6).outcome, DmaOutcome::kDone);
  EXPECT_EQ(r.ReadByte(buf_a), 6) << "no-PASID traffic bypasses";
  EXPECT_EQ(r.Write(va, 7, (*h)->pasid()).outcome, DmaOutcome::kDone);
  ASSERT_TRUE(r.p->sva().Unbind(*h).ok());
  step("unbind on an identity RID");
  EXPECT_EQ(r.Ste().Get(Ste::kConfig), Ste::kConfigBypass);
  EXPECT_GE(ste_images, 6);
  EXPECT_GE(cd_images, 4);
  // Linux's arm_smmu_write_entry: abort <-> bypass <-> CD table changes at
  // most one used 64-bit word or needs V cleared first; either way the
  // invariant above held for every image. Record that both kinds occurred.
  RecordProperty("invalid_ste_images", invalid_ste_images);
  EXPECT_EQ(r.Violations(), 0);
}

}  // namespace
}  // namespace svaemu::testing
