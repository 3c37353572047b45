#include "svaemu/platform/platform.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/hw/vtd/vtd.h"

namespace svaemu::platform {
namespace {

using kernel::kProtRead;
using kernel::kProtWrite;

std::unique_ptr<Platform> Make(PlatformConfig c) {
  auto p = Platform::Create(c);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

void BoundDmaReachesTheProcess(PlatformConfig c) {
  std::unique_ptr<Platform> p = Make(c);
  ASSERT_NE(p, nullptr);
  kernel::Mm* mm = *p->NewProcess();
  VirtAddr va = *mm->Mmap(kPageSize4K, kProtRead | kProtWrite, /*populate=*/true);
  absl::StatusOr<kernel::AttachHandle*> h = p->sva().Bind(*p->device(0).dev, *mm);
  ASSERT_TRUE(h.ok()) << h.status();
  const std::vector<uint8_t> data{0xde, 0xad, 0xbe, 0xef};
  uint64_t id = p->device(0).ep->Write((*h)->pasid(), va + 16, data);
  p->sim().RunUntilIdle(100000);
  const hw::pci::DmaRecord& r = p->device(0).ep->record(id);
  ASSERT_EQ(r.outcome, hw::pci::DmaOutcome::kDone);
  std::vector<uint8_t> back(4);
  ASSERT_TRUE(mm->Read(va + 16, back).ok());
  EXPECT_EQ(back, data);
  EXPECT_EQ(p->sim().violations().total(), 0);
  ASSERT_TRUE(p->sva().Unbind(*h).ok());
  EXPECT_EQ(p->sim().violations().total(), 0);
}

TEST(Platform, X86VtdBoundDmaReachesTheProcess) {
  BoundDmaReachesTheProcess({.arch = Arch::kX86_64});
}

TEST(Platform, X86FiveLevelVtdBoundDmaReachesTheProcess) {
  BoundDmaReachesTheProcess({.arch = Arch::kX86_64, .x86_levels = 5});
}

TEST(Platform, Arm64SmmuBoundDmaReachesTheProcess) {
  BoundDmaReachesTheProcess({.arch = Arch::kArm64});
}

TEST(Platform, Arm64StallOnUnpopulatedPageIsResolvedThroughIopf) {
  std::unique_ptr<Platform> p = Make({.arch = Arch::kArm64, .device = {.stall = true}});
  kernel::Mm* mm = *p->NewProcess();
  VirtAddr va = *mm->Mmap(kPageSize4K, kProtRead | kProtWrite, /*populate=*/false);
  kernel::AttachHandle* h = *p->sva().Bind(*p->device(0).dev, *mm);
  uint64_t id = p->device(0).ep->Write(h->pasid(), va, std::vector<uint8_t>{7});
  EXPECT_EQ(p->device(0).ep->record(id).outcome, hw::pci::DmaOutcome::kPending);
  p->sim().RunUntilIdle(100000);
  EXPECT_EQ(p->device(0).ep->record(id).outcome, hw::pci::DmaOutcome::kDone);
  EXPECT_TRUE(mm->Lookup(va).has_value());
  EXPECT_EQ(p->core().CheckAllFaultsAnswered(), 0);
  EXPECT_EQ(p->sim().violations().total(), 0);
}

TEST(Platform, X86PriPageRequestIsResolvedThroughIopf) {
  std::unique_ptr<Platform> p =
      Make({.arch = Arch::kX86_64, .device = {.ats = true, .pri = true}});
  kernel::Mm* mm = *p->NewProcess();
  VirtAddr va = *mm->Mmap(kPageSize4K, kProtRead | kProtWrite, /*populate=*/false);
  kernel::AttachHandle* h = *p->sva().Bind(*p->device(0).dev, *mm);
  uint64_t id = p->device(0).ep->Write(h->pasid(), va, std::vector<uint8_t>{7});
  p->sim().RunUntilIdle(100000);
  EXPECT_EQ(p->device(0).ep->record(id).outcome, hw::pci::DmaOutcome::kDone);
  EXPECT_TRUE(p->device(0).ep->record(id).page_requested);
  EXPECT_TRUE(mm->Lookup(va).has_value());
  EXPECT_EQ(p->sim().violations().total(), 0);
}

TEST(Platform, ManyUnitsAndDevicesGetDistinctRequesters) {
  std::unique_ptr<Platform> p = Make({.iommu_units = 2, .devices_per_unit = 3});
  ASSERT_EQ(p->num_devices(), 6u);
  EXPECT_EQ(p->device(0).unit, 0);
  EXPECT_EQ(p->device(5).unit, 1);
  EXPECT_NE(p->vtd(1), nullptr);
  EXPECT_EQ(p->smmu(0), nullptr);
  EXPECT_EQ(Platform::Create({.iommu_units = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace svaemu::platform
