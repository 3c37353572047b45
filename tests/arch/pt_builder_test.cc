// PageTableBuilder: map/unmap/split/promote round trips, table tagging,
// detaching tables for the kernel model to free.
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr SpaceId kMm{1};
constexpr SpaceId kKernel{100};

class PtBuilder : public ::testing::TestWithParam<PtFormat> {
 protected:
  PtBuilder() : pt_(*PageTableBuilder::Create(alloc_, GetParam(), kMm, "pgd")) {}

  // The hardware's view, for cross-checking the builder's Lookup.
  WalkResult HwWalk(VirtAddr va, AccessType acc = {.user = false}) {
    WalkOptions o{.agent = Agent::Iommu(0), .space = kMm};
    if (GetParam() == PtFormat::kArm64_4K48) {
      return WalkArm64(mem_, Arm64Stage1Config{.ttbr0 = pt_.root()}, va, acc,
                       o);
    }
    return WalkX86(mem_, pt_.root(), X86PagingMode{.levels = pt_.top_level()},
                   va, acc, o);
  }
  PhysAddr TableAt(VirtAddr va, uint8_t level) {  // table holding the entry
    absl::StatusOr<PhysAddr> ep = pt_.EntryAddress(va, level);
    EXPECT_TRUE(ep.ok()) << ep.status();
    return ep.value_or(PhysAddr()).AlignDown(kPageSize4K);
  }

  sim::Simulation sim_;
  mem::PhysMem mem_{sim_};
  mem::FrameAllocator alloc_{mem_};
  PageTableBuilder pt_;
};

INSTANTIATE_TEST_SUITE_P(
    Formats, PtBuilder,
    ::testing::Values(PtFormat::kX86_4Level, PtFormat::kX86_5Level,
                      PtFormat::kArm64_4K48),
    [](const ::testing::TestParamInfo<PtFormat>& i) {
      switch (i.param) {
        case PtFormat::kX86_4Level: return "X86_4Level";
        case PtFormat::kX86_5Level: return "X86_5Level";
        case PtFormat::kArm64_4K48: return "Arm64";
      }
      return "?";
    });

const VirtAddr kVa{0x0000000040000000};  // 1 GiB: its own PDPT/L1 slot
const PhysAddr kPa{0x0000000200000000};

TEST_P(PtBuilder, RootIsTaggedAsRootOfItsSpace) {
  const mem::FrameMeta& m = mem_.Meta(pt_.root());
  EXPECT_EQ(m.use, mem::FrameUse::kPageTable);
  EXPECT_EQ(m.space, kMm);
  EXPECT_EQ(m.level, pt_.top_level());
  EXPECT_TRUE(m.flags & mem::kFrameRoot);
}

TEST_P(PtBuilder, MapThenLookupAndHardwareWalkAgree) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, 3 * kPageSize4K, kPageSize4K,
                      MapAttrs{.write = false, .global = true})
                  .ok());
  for (uint64_t i = 0; i < 3; ++i) {
    const VirtAddr va = kVa + i * kPageSize4K + 0x10;
    std::optional<Translation> t = pt_.Lookup(va);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->pa, kPa + i * kPageSize4K + 0x10);
    EXPECT_EQ(t->leaf_level, 1);
    EXPECT_FALSE(t->perms.write);
    EXPECT_TRUE(t->global);
    WalkResult w = HwWalk(va);
    ASSERT_TRUE(w.ok()) << w.fault;
    EXPECT_EQ(w.t.pa, t->pa);
  }
  EXPECT_FALSE(pt_.Lookup(kVa + 3 * kPageSize4K).has_value());
  EXPECT_EQ(sim_.violations().total(), 0);
}

TEST_P(PtBuilder, MapTagsEveryTableWithSpaceLevelAndVaBase) {
  const VirtAddr va(0x0000001234567000);
  ASSERT_TRUE(pt_.Map(va, kPa, kPageSize4K, kPageSize4K, {}).ok());
  for (uint8_t level = 1; level < pt_.top_level(); ++level) {
    SCOPED_TRACE(level);
    const mem::FrameMeta& m = mem_.Meta(TableAt(va, level));
    EXPECT_EQ(m.use, mem::FrameUse::kPageTable);
    EXPECT_EQ(m.space, kMm);
    EXPECT_EQ(m.level, level);
    EXPECT_EQ(m.va_base, va.AlignDown(TableCoverage(level)));
    EXPECT_EQ(m.flags, 0);
  }
}

TEST_P(PtBuilder, TableFlagsReachTablesAllocatedAfterwards) {
  pt_.set_table_flags(mem::kFrameShared);
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  EXPECT_EQ(mem_.Meta(TableAt(kVa, 1)).flags, mem::kFrameShared);
}

TEST_P(PtBuilder, MapOverPresentLeafIsAlreadyExistsAndChangesNothing) {
  ASSERT_TRUE(pt_.Map(kVa + 2 * kPageSize4K, kPa, kPageSize4K, kPageSize4K, {})
                  .ok());
  const uint64_t frames = alloc_.allocated_frames();
  absl::Status s = pt_.Map(kVa, kPa, 4 * kPageSize4K, kPageSize4K, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_FALSE(pt_.Lookup(kVa).has_value());
  EXPECT_EQ(alloc_.allocated_frames(), frames);
  // A 2 MiB leaf over a table with a live 4 KiB leaf: the same.
  EXPECT_EQ(pt_.Map(kVa, kPa, kPageSize2M, kPageSize2M, {}).code(),
            absl::StatusCode::kAlreadyExists);
  // A 4 KiB page inside a 2 MiB leaf: the same.
  ASSERT_TRUE(pt_.Map(kVa + kPageSize2M, kPa, kPageSize2M, kPageSize2M, {})
                  .ok());
  EXPECT_EQ(pt_.Map(kVa + kPageSize2M + kPageSize4K, kPa, kPageSize4K,
                    kPageSize4K, {})
                .code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(PtBuilder, MapOverEmptyTableWithHugeLeafIsFailedPrecondition) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  ASSERT_TRUE(pt_.Unmap(kVa, kPageSize4K).ok());
  EXPECT_EQ(pt_.Map(kVa, kPa, kPageSize2M, kPageSize2M, {}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(PtBuilder, MisuseIsInvalidArgument) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(pt_.Map(kVa + 0x800, kPa, kPageSize4K, kPageSize4K, {}).code(),
            kInvalid);
  EXPECT_EQ(pt_.Map(kVa, kPa + 0x1000, kPageSize2M, kPageSize2M, {}).code(),
            kInvalid);
  EXPECT_EQ(pt_.Map(kVa, kPa, kPageSize4K, kPageSize2M, {}).code(), kInvalid);
  EXPECT_EQ(pt_.Map(kVa, kPa, 8192, 8192, {}).code(), kInvalid);
  EXPECT_EQ(pt_.Map(VirtAddr(0x00f0000000000000) + (1ull << 58), kPa,
                    kPageSize4K, kPageSize4K, {})
                .code(),
            kInvalid);  // non-canonical for every format
  EXPECT_EQ(pt_.Unmap(kVa + 1, kPageSize4K).code(), kInvalid);
  EXPECT_EQ(pt_.Split(kVa, 1).code(), kInvalid);
  std::vector<PhysAddr> freed;
  EXPECT_EQ(pt_.Promote(kVa, 4, kPa, {}, &freed).code(), kInvalid);
  EXPECT_EQ(pt_.Promote(kVa + kPageSize4K, 2, kPa, {}, &freed).code(),
            kInvalid);
  EXPECT_EQ(pt_.EntryAddress(kVa, 0).status().code(), kInvalid);
  EXPECT_EQ(pt_.EntryAddress(kVa, pt_.top_level() + 1).status().code(),
            kInvalid);
}

TEST_P(PtBuilder, EntryAddressIsNotFoundBelowAnAbsentEntry) {
  EXPECT_TRUE(pt_.EntryAddress(kVa, pt_.top_level()).ok());
  EXPECT_EQ(pt_.EntryAddress(kVa, 1).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize2M, kPageSize2M, {}).ok());
  EXPECT_EQ(pt_.EntryAddress(kVa, 1).status().code(),
            absl::StatusCode::kNotFound);  // the path ends in a 2 MiB leaf
  EXPECT_TRUE(pt_.EntryAddress(kVa, 2).ok());
}

TEST_P(PtBuilder, UnmapClearsLeavesAndSkipsAbsentEntries) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, 4 * kPageSize4K, kPageSize4K, {}).ok());
  // The range starts in unmapped space and ends inside the mapping.
  ASSERT_TRUE(pt_.Unmap(kVa - kPageSize1G, kPageSize1G + 2 * kPageSize4K).ok());
  // A range with nothing mapped at all is fine too.
  ASSERT_TRUE(pt_.Unmap(kVa + kPageSize1G, 3 * kPageSize1G).ok());
  EXPECT_FALSE(pt_.Lookup(kVa).has_value());
  EXPECT_FALSE(pt_.Lookup(kVa + kPageSize4K).has_value());
  EXPECT_TRUE(pt_.Lookup(kVa + 2 * kPageSize4K).has_value());
  EXPECT_TRUE(pt_.Lookup(kVa + 3 * kPageSize4K).has_value());
}

TEST_P(PtBuilder, UnmapInsideHugeLeafSplitsItAndKeepsTheRest) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize2M, kPageSize2M, {}).ok());
  ASSERT_TRUE(pt_.Unmap(kVa + 5 * kPageSize4K, kPageSize4K).ok());
  EXPECT_FALSE(pt_.Lookup(kVa + 5 * kPageSize4K).has_value());
  std::optional<Translation> t = pt_.Lookup(kVa + 6 * kPageSize4K + 7);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->pa, kPa + 6 * kPageSize4K + 7);
  EXPECT_EQ(t->leaf_level, 1);
}

TEST_P(PtBuilder, SplitOneGigLeafKeepsAddressesAndAttributes) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize1G, kPageSize1G,
                      MapAttrs{.write = false, .user = false, .global = true})
                  .ok());
  ASSERT_TRUE(pt_.Split(kVa + 0x12345678, 3).ok());
  for (uint64_t off : {0ull, 0x200000ull, 0x3fe00000ull}) {
    std::optional<Translation> t = pt_.Lookup(kVa + off + 0x1234);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->leaf_level, 2);
    EXPECT_EQ(t->pa, kPa + off + 0x1234);
    EXPECT_FALSE(t->perms.write);
    EXPECT_FALSE(t->perms.user);
    EXPECT_TRUE(t->global);
  }
  const mem::FrameMeta& m = mem_.Meta(TableAt(kVa, 2));
  EXPECT_EQ(m.level, 2);
  EXPECT_EQ(m.va_base, kVa);
  ASSERT_TRUE(pt_.Split(kVa + kPageSize2M, 2).ok());
  std::optional<Translation> t = pt_.Lookup(kVa + kPageSize2M + 0x3456);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->leaf_level, 1);
  EXPECT_EQ(t->pa, kPa + kPageSize2M + 0x3456);
  EXPECT_FALSE(t->perms.write);
  EXPECT_TRUE(HwWalk(kVa + kPageSize2M + 0x3456).ok());
}

TEST_P(PtBuilder, SplitOfAbsentOrTableEntryFails) {
  EXPECT_EQ(pt_.Split(kVa, 2).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  EXPECT_EQ(pt_.Split(kVa, 2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(pt_.Split(kVa + kPageSize2M, 2).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(PtBuilder, PromoteReturnsPteTableThatTheAllocatorReusesNext) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize2M, kPageSize4K, {}).ok());
  const PhysAddr pte_table = TableAt(kVa, 1);
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(pt_.Promote(kVa, 2, kPa, {}, &freed).ok());
  EXPECT_THAT(freed, ElementsAre(pte_table));
  std::optional<Translation> t = pt_.Lookup(kVa + 0x12345);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->leaf_level, 2);
  EXPECT_EQ(t->pa, kPa + 0x12345);
  // The kernel model frees it; LIFO reuse hands the same frame out next.
  alloc_.Free(pte_table, "pte_free_kernel");
  absl::StatusOr<PhysAddr> next = alloc_.AllocatePageTable(
      mem::PageTableTag{.space = kMm, .level = 1}, "pte_alloc");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, pte_table);
}

TEST_P(PtBuilder, PromoteToOneGigReturnsTablesDeepestFirst) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  ASSERT_TRUE(
      pt_.Map(kVa + kPageSize2M, kPa, kPageSize4K, kPageSize4K, {}).ok());
  const PhysAddr pt0 = TableAt(kVa, 1);
  const PhysAddr pt1 = TableAt(kVa + kPageSize2M, 1);
  const PhysAddr pd = TableAt(kVa, 2);
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(pt_.Promote(kVa, 3, PhysAddr(0x40000000), {}, &freed).ok());
  EXPECT_THAT(freed, ElementsAre(pt0, pt1, pd));
  EXPECT_EQ(pt_.Lookup(kVa)->leaf_level, 3);
}

TEST_P(PtBuilder, PromoteOverNothingAllocatesPathAndFreesNothing) {
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(pt_.Promote(kVa, 2, kPa, {}, &freed).ok());
  EXPECT_THAT(freed, IsEmpty());
  WalkResult w = HwWalk(kVa + 0x1000);
  ASSERT_TRUE(w.ok()) << w.fault;
  EXPECT_EQ(w.t.pa, kPa + 0x1000);
  EXPECT_EQ(pt_.Promote(kVa, 2, kPa, {}, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(PtBuilder, FreeTablesDetachesTablesInsideRangeDeepestFirst) {
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  const PhysAddr pt = TableAt(kVa, 1);
  const PhysAddr pd = TableAt(kVa, 2);
  ASSERT_TRUE(pt_.Unmap(kVa, kPageSize4K).ok());
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(pt_.FreeTables(kVa, kVa + kPageSize1G, &freed).ok());
  // PTE table and PD lie inside; the tables above them only partly, but
  // nothing is left in them, so they go too: every table but the root.
  ASSERT_EQ(freed.size(), pt_.top_level() - 1u);
  EXPECT_EQ(freed[0], pt);
  EXPECT_EQ(freed[1], pd);
  EXPECT_EQ(pt_.EntryAddress(kVa, pt_.top_level() - 1).status().code(),
            absl::StatusCode::kNotFound);
  for (uint16_t i = 0; i < 512; ++i) {
    EXPECT_EQ(mem_.Read64(pt_.root() + 8ull * i, mem::Access::Cpu()), 0u);
  }
}

TEST_P(PtBuilder, FreeTablesOfOnePageRangeFreesItsNowEmptyTables) {
  // munmap() of a lone page: no table lies inside 4 KiB, but none is used
  // by anything else.
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  ASSERT_TRUE(pt_.Unmap(kVa, kPageSize4K).ok());
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(pt_.FreeTables(kVa, kVa + kPageSize4K, &freed).ok());
  EXPECT_EQ(freed.size(), pt_.top_level() - 1u);
}

TEST_P(PtBuilder, FreeTablesKeepsPartlyCoveredSharedTablesEvenWhenEmpty) {
  absl::StatusOr<PageTableBuilder> kernel = PageTableBuilder::Create(
      alloc_, GetParam(), kKernel, "init_mm", mem::kFrameShared);
  ASSERT_TRUE(kernel.ok());
  ASSERT_TRUE(kernel->Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  const PhysAddr pt = kernel->EntryAddress(kVa, 1)->AlignDown(kPageSize4K);
  ASSERT_TRUE(kernel->Unmap(kVa, kPageSize4K).ok());
  std::vector<PhysAddr> freed;
  ASSERT_TRUE(kernel->FreeTables(kVa, kVa + kPageSize4K, &freed).ok());
  EXPECT_THAT(freed, IsEmpty());
  ASSERT_TRUE(kernel->FreeTables(kVa, kVa + kPageSize2M, &freed).ok());
  EXPECT_THAT(freed, ElementsAre(pt));
}

TEST_P(PtBuilder, FreeTablesKeepsTablesWithLiveEntriesOutsideRange) {
  // Two pages in one PTE table, one PTE table in the next 2 MiB.
  ASSERT_TRUE(pt_.Map(kVa, kPa, 2 * kPageSize4K, kPageSize4K, {}).ok());
  ASSERT_TRUE(
      pt_.Map(kVa + kPageSize2M, kPa, kPageSize4K, kPageSize4K, {}).ok());
  const PhysAddr pt1 = TableAt(kVa + kPageSize2M, 1);
  ASSERT_TRUE(pt_.Unmap(kVa + kPageSize4K, kPageSize4K).ok());
  ASSERT_TRUE(pt_.Unmap(kVa + kPageSize2M, kPageSize4K).ok());
  std::vector<PhysAddr> freed;
  // [kVa+4K, kVa+4M): the first PTE table still maps kVa: kept. The second
  // lies inside: detached. The PD holds the first: kept.
  ASSERT_TRUE(pt_.FreeTables(kVa + kPageSize4K, kVa + 2 * kPageSize2M, &freed)
                  .ok());
  EXPECT_THAT(freed, ElementsAre(pt1));
  EXPECT_TRUE(pt_.Lookup(kVa).has_value());
  EXPECT_TRUE(HwWalk(kVa).ok());
}

TEST_P(PtBuilder, FreeTablesNeverFreesSharedKernelTables) {
  // The kernel's own tree, tables shared into every space.
  const VirtAddr kernel_va = GetParam() == PtFormat::kX86_5Level
                                 ? VirtAddr(0xff11000000000000)
                                 : VirtAddr(0xffff888000000000);
  absl::StatusOr<PageTableBuilder> kernel = PageTableBuilder::Create(
      alloc_, GetParam(), kKernel, "init_mm", mem::kFrameShared);
  ASSERT_TRUE(kernel.ok());
  ASSERT_TRUE(kernel->Map(kernel_va, kPa, kPageSize4K, kPageSize4K,
                          MapAttrs{.user = false})
                  .ok());
  // The mm's root copies the kernel's top-level entry (clone_pgd_range()).
  const uint8_t top = pt_.top_level();
  ASSERT_TRUE(pt_.WriteEntry(kernel_va, top, *kernel->ReadEntry(kernel_va, top))
                  .ok());
  ASSERT_TRUE(pt_.Map(kVa, kPa, kPageSize4K, kPageSize4K, {}).ok());
  ASSERT_TRUE(pt_.Unmap(kVa, kPageSize4K).ok());
  std::vector<PhysAddr> freed;
  // Over the kernel half: nothing of the mm's, nothing freed.
  ASSERT_TRUE(pt_.FreeTables(kernel_va.AlignDown(TableCoverage(top - 1)),
                             kernel_va + kPageSize1G, &freed)
                  .ok());
  EXPECT_THAT(freed, IsEmpty());
  EXPECT_TRUE(pt_.Lookup(kernel_va).has_value());
  // Over the user half: only the mm's own tables.
  ASSERT_TRUE(pt_.FreeTables(VirtAddr(0), VirtAddr(1ull << 46), &freed).ok());
  // PTE table, PD/L2, PDPT/L1 (and the emptied 5-level P4D).
  EXPECT_EQ(freed.size(), pt_.top_level() - 1u);
  for (PhysAddr f : freed) EXPECT_EQ(mem_.Meta(f).space, kMm);
  EXPECT_TRUE(pt_.Lookup(kernel_va).has_value());
}

}  // namespace
}  // namespace svaemu::arch
