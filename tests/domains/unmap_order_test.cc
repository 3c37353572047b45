// iommu_unmap(): the IOTLB flush must come before the page-table pages the
// unmap emptied are freed (iommu_iotlb_gather's freelist). A DMA that runs
// while the flush is in flight walks from a cached paging-structure / walk
// cache entry into the emptied last-level table: with the pages freed
// first, that is a walk through a freed frame; with the Linux order, the
// table is still a table of the domain and the walk just finds nothing.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "domains/domains_testutil.h"

namespace svaemu::testing {
namespace {

using check::ViolationKind;
using hw::pci::DmaOutcome;
using kernel::kIommuRead;
using kernel::kIommuWrite;
using kernel::UnmapOrder;

constexpr VirtAddr kIova(0x20'0000);  // two pages in one last-level table

struct Outcome {
  int freed_walks = 0;
  int violations = 0;
  DmaOutcome racing_dma = DmaOutcome::kPending;
  uint64_t unmapped = 0;
};

Outcome UnmapWithDmaInFlight(Arch arch, UnmapOrder order) {
  Rig r(arch);
  r.core().set_unmap_order_for_testing(order);
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr a = r.Buffer(), b = r.Buffer();
  EXPECT_TRUE(r.core().Map(*d, kIova, a, kPageSize4K, kIommuRead | kIommuWrite).ok());
  EXPECT_TRUE(r.core().Map(*d, kIova + kPageSize4K, b, kPageSize4K, kIommuRead | kIommuWrite).ok());
  EXPECT_TRUE(r.core().AttachDevice(*d, r.dev()).ok());
  // A DMA to page A fills the walk caches down to the last-level table.
  EXPECT_EQ(r.Write(kIova, 1).outcome, DmaOutcome::kDone);
  // A DMA to page B (never translated: no IOTLB entry) is issued now and
  // runs while the unmap waits for its invalidation to complete.
  uint64_t id = 0;
  r.p->sim().events().Schedule(0, "racing_dma", [&] {
    id = r.ep().Write(std::nullopt, kIova + kPageSize4K, std::vector<uint8_t>{2});
  });
  absl::StatusOr<uint64_t> n = r.core().Unmap(*d, kIova, 2 * kPageSize4K);
  EXPECT_TRUE(n.ok()) << n.status();
  r.p->sim().RunUntilIdle(1'000'000);
  Outcome o;
  o.unmapped = n.value_or(0);
  EXPECT_NE(id, 0u) << "the racing DMA did not run during the unmap";
  if (id != 0) o.racing_dma = r.ep().record(id).outcome;
  o.freed_walks = r.p->sim().violations().Count(ViolationKind::kWalkThroughFreedFrame);
  o.violations = r.Violations();
  return o;
}

class UnmapOrderTest : public ::testing::TestWithParam<Arch> {};
INSTANTIATE_TEST_SUITE_P(BothPlatforms, UnmapOrderTest,
                         ::testing::Values(Arch::kX86_64, Arch::kArm64), ArchName);

TEST_P(UnmapOrderTest, FlushBeforeFreeIsClean) {
  Outcome o = UnmapWithDmaInFlight(GetParam(), UnmapOrder::kSyncThenFree);
  EXPECT_EQ(o.unmapped, 2 * kPageSize4K);
  EXPECT_EQ(o.racing_dma, DmaOutcome::kAborted);  // the entry was cleared
  EXPECT_EQ(o.violations, 0);
}

TEST_P(UnmapOrderTest, FreeBeforeFlushWalksThroughTheFreedTable) {
  Outcome o = UnmapWithDmaInFlight(GetParam(), UnmapOrder::kFreeThenSync);
  EXPECT_EQ(o.unmapped, 2 * kPageSize4K);
  EXPECT_GE(o.freed_walks, 1);
  EXPECT_EQ(o.violations, o.freed_walks);
}

TEST_P(UnmapOrderTest, UnmapThatEmptiesATableFreesItAndNothingElse) {
  Rig r(GetParam());
  kernel::PagingDomain* d = *r.core().AllocPagingDomain(r.dev());
  const PhysAddr a = r.Buffer();
  const size_t before = r.p->alloc().allocated_frames();
  ASSERT_TRUE(r.core().Map(*d, kIova, a, kPageSize4K, kIommuRead).ok());
  // Levels 3, 2 and 1 below the root were allocated for the mapping.
  EXPECT_EQ(r.p->alloc().allocated_frames(), before + 3);
  EXPECT_EQ(*r.core().Unmap(*d, kIova, kPageSize4K), kPageSize4K);
  EXPECT_EQ(r.p->alloc().allocated_frames(), before);
  // Unmapping nothing is not an error: zero bytes were mapped.
  EXPECT_EQ(*r.core().Unmap(*d, kIova, kPageSize4K), 0u);
  ASSERT_TRUE(r.core().FreeDomain(d).ok());
  EXPECT_EQ(r.p->alloc().allocated_frames(), before - 1);  // the root too
  EXPECT_EQ(r.Violations(), 0);
}

}  // namespace
}  // namespace svaemu::testing
