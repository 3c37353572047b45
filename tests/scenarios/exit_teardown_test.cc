// exit_teardown: what the hardware is left with when a bound process exits
// (deactivate: entry gone, faults reported; quiesce and the driver default:
// SMMUv3 keeps the CD valid with EPD0 = 1, VT-d clears the entry with fault
// reporting suppressed). In every case the device's next DMA is aborted
// without walking the exited mm's tables.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/platform/platform.h"

namespace svaemu::platform {
namespace {

using kernel::ExitTeardown;

struct Outcome {
  hw::pci::DmaOutcome dma;
  size_t vtd_faults_reported = 0;    // VT-d: fault records not suppressed
  size_t vtd_faults_suppressed = 0;  // VT-d: FPD-suppressed faults
  bool cd_valid = false;             // SMMUv3: CD.V after exit
  bool cd_epd0 = false;              // SMMUv3: CD.EPD0 after exit
  int violations = 0;
};

Outcome ExitThenDma(Arch arch, ExitTeardown policy) {
  PlatformConfig c;
  c.arch = arch;
  c.policies.exit_teardown = policy;
  auto p = *Platform::Create(c);
  kernel::Mm& mm = **p->NewProcess();
  VirtAddr va = *mm.Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);
  kernel::AttachHandle* h = *p->sva().Bind(*p->device(0).dev, mm);
  (void)mm.Put();  // exits while bound
  p->sim().RunUntilIdle(1'000'000);
  Outcome o;
  uint64_t id = p->device(0).ep->Write(h->pasid(), va, std::vector<uint8_t>{1});
  p->sim().RunUntilIdle(1'000'000);
  o.dma = p->device(0).ep->record(id).outcome;
  if (hw::vtd::Vtd* v = p->vtd(0)) {
    for (const auto& f : v->fault_log()) {
      (f.suppressed ? o.vtd_faults_suppressed : o.vtd_faults_reported)++;
    }
  }
  if (auto* d = p->smmu_driver(0)) {
    absl::StatusOr<hw::smmuv3::Cd> cd = d->ReadCd(p->device(0).dev->id().rid, h->pasid().value());
    if (cd.ok()) {
      o.cd_valid = cd->Flag(hw::smmuv3::Cd::kV);
      o.cd_epd0 = cd->Flag(hw::smmuv3::Cd::kEPD0);
    }
  }
  o.violations = p->sim().violations().total();
  (void)p->sva().Unbind(h);
  o.violations = p->sim().violations().total();
  return o;
}

TEST(ExitTeardown, VtdDeactivateReportsTheFault) {
  Outcome o = ExitThenDma(Arch::kX86_64, ExitTeardown::kDeactivate);
  EXPECT_EQ(o.dma, hw::pci::DmaOutcome::kAborted);
  EXPECT_EQ(o.vtd_faults_reported, 1u);
  EXPECT_EQ(o.vtd_faults_suppressed, 0u);
  EXPECT_EQ(o.violations, 0);
}

TEST(ExitTeardown, VtdQuiesceAndDefaultSuppressTheFault) {
  for (ExitTeardown p : {ExitTeardown::kQuiesce, ExitTeardown::kDriverDefault}) {
    Outcome o = ExitThenDma(Arch::kX86_64, p);
    EXPECT_EQ(o.dma, hw::pci::DmaOutcome::kAborted) << kernel::PolicyName(p);
    EXPECT_EQ(o.vtd_faults_reported, 0u) << kernel::PolicyName(p);
    EXPECT_EQ(o.vtd_faults_suppressed, 1u) << kernel::PolicyName(p);
    EXPECT_EQ(o.violations, 0);
  }
}

TEST(ExitTeardown, SmmuDeactivateClearsTheCd) {
  Outcome o = ExitThenDma(Arch::kArm64, ExitTeardown::kDeactivate);
  EXPECT_EQ(o.dma, hw::pci::DmaOutcome::kAborted);
  EXPECT_FALSE(o.cd_valid);
  EXPECT_EQ(o.violations, 0);
}

TEST(ExitTeardown, SmmuQuiesceAndDefaultKeepTheCdValidWithEpd0) {
  for (ExitTeardown p : {ExitTeardown::kQuiesce, ExitTeardown::kDriverDefault}) {
    Outcome o = ExitThenDma(Arch::kArm64, p);
    EXPECT_EQ(o.dma, hw::pci::DmaOutcome::kAborted) << kernel::PolicyName(p);
    EXPECT_TRUE(o.cd_valid) << kernel::PolicyName(p);
    EXPECT_TRUE(o.cd_epd0) << kernel::PolicyName(p);
    EXPECT_EQ(o.violations, 0);
  }
}

}  // namespace
}  // namespace svaemu::platform
