// PreparedWalker (arch/walker.h): a walk from a prepared walker is the walk
// WalkX86 / WalkArm64 run from the same start, and Narrow() gives the
// rights the walker reports for a run of table entries.
#include <vector>

#include "arch/walk_testutil.h"
#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/walker.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

constexpr SpaceId kSpace{3};

void ExpectSameWalk(const WalkResult& a, const WalkResult& b) {
  EXPECT_EQ(a.fault, b.fault);
  EXPECT_EQ(a.perm, b.perm);
  EXPECT_EQ(a.level, b.level);
  EXPECT_EQ(a.entry, b.entry);
  EXPECT_EQ(a.reads, b.reads);
  EXPECT_EQ(a.ad_updates, b.ad_updates);
  if (a.ok() && b.ok()) {
    EXPECT_EQ(a.t.pa, b.t.pa);
    EXPECT_EQ(a.t.page_shift, b.t.page_shift);
    EXPECT_EQ(a.t.perms, b.t.perms);
    EXPECT_EQ(a.t.global, b.t.global);
    EXPECT_EQ(a.t.leaf_entry, b.t.leaf_entry);
  }
}

class PreparedWalkerTest : public ::testing::TestWithParam<PtFormat> {
 protected:
  PreparedWalkerTest()
      : pt_(*PageTableBuilder::Create(alloc_, GetParam(), kSpace, "pgd")) {
    opts_.agent = Agent::Iommu(2);
    opts_.space = kSpace;
  }
  bool arm() const { return GetParam() == PtFormat::kArm64_4K48; }
  WalkResult Reference(VirtAddr va, AccessType acc, Recorder* rec) {
    if (arm()) {
      return WalkArm64(mem_, Arm64Stage1Config{.ttbr0 = pt_.root(), .ha = true, .hd = true},
                       va, acc, opts_, rec);
    }
    return WalkX86(mem_, pt_.root(), X86PagingMode{.levels = pt_.top_level()}, va, acc,
                   opts_, rec);
  }
  WalkResult Prepared(VirtAddr va, AccessType acc, Recorder* rec) {
    const WalkStart start{.table = pt_.root(), .level = pt_.top_level()};
    if (arm()) {
      const Arm64Walker w = MakeArm64Walker(
          Arm64Stage1Config{.ttbr0 = pt_.root(), .ha = true, .hd = true}, opts_);
      return w.Walk(mem_, start, va, acc, opts_.agent, opts_.space, rec);
    }
    const X86Walker w = MakeX86Walker(X86PagingMode{.levels = pt_.top_level()}, opts_);
    return w.Walk(mem_, start, va, acc, opts_.agent, opts_.space, rec);
  }

  sim::Simulation sim_;
  mem::PhysMem mem_{sim_};
  mem::FrameAllocator alloc_{mem_};
  PageTableBuilder pt_;
  WalkOptions opts_;
};

TEST_P(PreparedWalkerTest, WalksAsTheReferenceWalkerAndNarrowMatchesItsObserver) {
  const VirtAddr rw(0x40000000), ro(0x40201000), sup(0x7f0000000000), absent(0x50000000);
  ASSERT_TRUE(pt_.Map(rw, PhysAddr(0x100000), kPageSize4K, kPageSize4K,
                      {.accessed = false}).ok());
  ASSERT_TRUE(pt_.Map(ro, PhysAddr(0x200000), kPageSize4K, kPageSize4K,
                      {.write = false}).ok());
  ASSERT_TRUE(pt_.Map(sup, PhysAddr(0x300000), kPageSize4K, kPageSize4K,
                      {.user = false, .exec = false}).ok());
  const std::vector<std::pair<VirtAddr, AccessType>> cases = {
      {rw, {}},  {rw, {.write = true}}, {ro, {.write = true}}, {ro, {}},
      {sup, {}}, {sup, {.user = false}}, {sup, {.exec = true, .user = false}},
      {absent, {}}};
  for (const auto& [va, acc] : cases) {
    SCOPED_TRACE(va.value());
    // The reference first: A/D updates it makes are then seen by both
    // (a second reference walk and the prepared one start from the same
    // memory).
    Recorder r0, r1, r2;
    (void)Reference(va, acc, &r0);
    const WalkResult ref = Reference(va, acc, &r1);
    const WalkResult got = Prepared(va, acc, &r2);
    ExpectSameWalk(got, ref);
    ASSERT_EQ(r2.reads.size(), r1.reads.size());
    // Narrow() over the table entries down to each one equals what the
    // observer saw there.
    const Arm64Walker aw = MakeArm64Walker(Arm64Stage1Config{.ttbr0 = pt_.root()}, opts_);
    const X86Walker xw = MakeX86Walker(X86PagingMode{.levels = pt_.top_level()}, opts_);
    uint64_t tables_and = ~0ull, tables_or = 0;
    for (size_t i = 0; i < r2.reads.size(); ++i) {
      EXPECT_EQ(r2.reads[i].entry_pa, r1.reads[i].entry_pa);
      if (r2.reads[i].leaf || i + 1 == r2.reads.size()) break;
      tables_and &= r2.reads[i].entry;
      tables_or |= r2.reads[i].entry;
      const Perms n = arm() ? aw.Narrow(Perms{}, tables_and, tables_or)
                            : xw.Narrow(Perms{}, tables_and, tables_or);
      EXPECT_EQ(n, r2.reads[i].cumulative) << "level " << int(r2.reads[i].level);
    }
  }
  EXPECT_EQ(sim_.violations().total(), 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, PreparedWalkerTest,
                         ::testing::Values(PtFormat::kX86_4Level, PtFormat::kX86_5Level,
                                           PtFormat::kArm64_4K48));

}  // namespace
}  // namespace svaemu::arch
