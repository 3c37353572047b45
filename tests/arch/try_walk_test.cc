// PreparedWalker::TryWalk (arch/walk.h, TryWalkFast): when it accepts a
// walk, the result is exactly WalkTranslated()'s from the same start and
// the entries it hands back are the ones that walk reads; whatever it
// decides, it leaves no trace (no write, no checker report). Checked
// against the full walker over page tables with one bit of one entry on
// the path flipped at random, random starts and random access kinds.
#include <array>
#include <vector>

#include "arch/walk_testutil.h"
#include "gtest/gtest.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/walker.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/rng.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

constexpr SpaceId kSpace{5};

class TryWalkTest : public ::testing::TestWithParam<PtFormat> {
 protected:
  TryWalkTest() : pt_(*PageTableBuilder::Create(alloc_, GetParam(), kSpace, "pgd")) {
    opts_.agent = Agent::Iommu(1);
    opts_.space = kSpace;
    opts_.max_phys_bits = 46;  // x86: bits 46..51 of an entry are reserved
  }
  bool arm() const { return GetParam() == PtFormat::kArm64_4K48; }

  // The walk both sides run: from `table` at `level` with rights `cum`.
  bool Full(uint64_t table, uint8_t level, uint32_t cum, VirtAddr va, AccessType acc,
            Recorder* rec, FastTranslation* t, WalkResult* w) {
    if (arm()) {
      return arm_.WalkTranslated(mem_, table, level, cum, va, acc, opts_.agent, kSpace, rec, t,
                                 w);
    }
    return x86_.WalkTranslated(mem_, table, level, cum, va, acc, opts_.agent, kSpace, rec, t, w);
  }
  bool Try(uint64_t table, uint8_t level, uint32_t cum, VirtAddr va, AccessType acc,
           uint64_t* entries, FastTranslation* t) {
    return arm() ? arm_.TryWalk(mem_, table, level, cum, va, acc, kSpace, entries, t)
                 : x86_.TryWalk(mem_, table, level, cum, va, acc, kSpace, entries, t);
  }
  uint64_t Peek(PhysAddr pa) {
    uint64_t v = 0;
    EXPECT_TRUE(mem_.Read64(pa, mem::Access::Cpu(), &v));
    return v;
  }
  void Poke(PhysAddr pa, uint64_t v) { ASSERT_TRUE(mem_.Write64(pa, v, mem::Access::Cpu())); }

  sim::Simulation sim_;
  mem::PhysMem mem_{sim_};
  mem::FrameAllocator alloc_{mem_};
  PageTableBuilder pt_;
  WalkOptions opts_;
  Arm64Walker arm_;
  X86Walker x86_;
};

TEST_P(TryWalkTest, AcceptsOnlyWhatTheFullWalkTranslatesAndMatchesItExactly) {
  const uint8_t top = pt_.top_level();
  // Pages with every combination of the attributes the fast test reads,
  // under shared and separate tables.
  std::vector<VirtAddr> vas;
  for (uint64_t i = 0; i < 16; ++i) {
    const VirtAddr va((i % 4 == 0 ? (i + 1) << 30 : 0x40000000) + i * kPageSize4K + (i << 21));
    ASSERT_TRUE(pt_.Map(va, PhysAddr(0x1000000 + i * kPageSize4K), kPageSize4K, kPageSize4K,
                        {.write = (i & 1) != 0, .user = (i & 2) != 0, .exec = (i & 4) != 0,
                         .accessed = (i & 8) != 0})
                    .ok());
    vas.push_back(va);
  }
  if (arm()) {
    arm_ = MakeArm64Walker(Arm64Stage1Config{.ttbr0 = pt_.root(), .ha = true, .hd = true},
                           opts_);
  } else {
    x86_ = MakeX86Walker(X86PagingMode{.levels = top}, opts_);
  }
  const std::vector<unsigned> bits =
      arm() ? std::vector<unsigned>{0, 1, 6, 7, 10, 11, 47, 51, 53, 54, 59, 60, 61, 62}
            : std::vector<unsigned>{0, 1, 2, 5, 6, 7, 8, 47, 63};
  sim::Rng rng(GetParam() == PtFormat::kX86_5Level ? 55 : 44);
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    SCOPED_TRACE(iter);
    const VirtAddr va = vas[rng.Uniform(vas.size())];
    // Where the walk starts: the root, or a table the walk reaches.
    Recorder path;
    FastTranslation t0;
    WalkResult w0;
    (void)Full(pt_.root().value(), top, kPermIndexAll, va, {}, &path, &t0, &w0);
    const size_t depth = path.reads.empty() ? 0 : rng.Uniform(path.reads.size());
    uint64_t table = pt_.root().value();
    uint8_t level = top;
    uint32_t cum = kPermIndexAll;
    if (depth > 0 && !path.reads[depth - 1].leaf) {
      table = path.reads[depth].table.value();
      level = path.reads[depth].level;
      cum = PermsIndex(path.reads[depth - 1].cumulative);
    }
    // One bit of one entry at or below the start, flipped (or none).
    const std::vector<LevelRead> below(path.reads.begin() + (top - level), path.reads.end());
    std::vector<std::pair<PhysAddr, uint64_t>> saved;
    if (!below.empty() && rng.Uniform(4) != 0) {
      const PhysAddr pa = below[rng.Uniform(below.size())].entry_pa;
      const uint64_t v = Peek(pa);
      saved.emplace_back(pa, v);
      Poke(pa, v ^ (1ull << bits[rng.Uniform(bits.size())]));
    }
    const AccessType acc{.write = rng.Uniform(2) != 0, .exec = rng.Uniform(3) == 0,
                         .user = rng.Uniform(2) != 0};
    std::array<uint64_t, 5> before{};
    for (size_t i = 0; i < below.size(); ++i) before[i] = Peek(below[i].entry_pa);
    const int64_t violations = sim_.violations().total();

    std::array<uint64_t, 5> entries{};
    FastTranslation fast;
    const bool took = Try(table, level, cum, va, acc, entries.data(), &fast);
    // No trace: nothing written, nothing reported.
    for (size_t i = 0; i < below.size(); ++i) EXPECT_EQ(Peek(below[i].entry_pa), before[i]);
    EXPECT_EQ(sim_.violations().total(), violations);

    Recorder rec;
    FastTranslation t;
    WalkResult w;
    const bool ok = Full(table, level, cum, va, acc, &rec, &t, &w);
    if (took) {
      ++accepted;
      ASSERT_TRUE(ok);
      EXPECT_EQ(fast.page, t.page);
      EXPECT_EQ(fast.leaf, t.leaf);
      EXPECT_EQ(fast.leaf_pa, t.leaf_pa);
      EXPECT_EQ(fast.perms, t.perms);
      EXPECT_EQ(fast.level, t.level);
      EXPECT_EQ(fast.reads, t.reads);
      EXPECT_EQ(t.ad_updates, 0);
      ASSERT_EQ(rec.reads.size(), level);
      for (const LevelRead& r : rec.reads) EXPECT_EQ(entries[r.level - 1], r.entry);
    } else {
      ++rejected;
    }
    for (const auto& [pa, v] : saved) Poke(pa, v);
  }
  // Both outcomes were exercised, often.
  EXPECT_GT(accepted, 300);
  EXPECT_GT(rejected, 300);
  EXPECT_EQ(sim_.violations().total(), 0);
}

INSTANTIATE_TEST_SUITE_P(Formats, TryWalkTest,
                         ::testing::Values(PtFormat::kX86_4Level, PtFormat::kX86_5Level,
                                           PtFormat::kArm64_4K48));

// With the checker on, a walk through a page-table frame that was freed is
// the full walk's to report: TryWalk declines it and reports nothing.
TEST(TryWalkChecker, DeclinesAWalkThroughAFreedTableWithoutReporting) {
  sim::Simulation sim;
  mem::PhysMem mem(sim);
  mem::FrameAllocator alloc(mem);
  PageTableBuilder pt = *PageTableBuilder::Create(alloc, PtFormat::kX86_4Level, kSpace, "pgd");
  const VirtAddr va(0x40000000);
  ASSERT_TRUE(pt.Map(va, PhysAddr(0x1000000), kPageSize4K, kPageSize4K, {}).ok());
  WalkOptions opts;
  opts.agent = Agent::Iommu(1);
  opts.space = kSpace;
  const X86Walker w = MakeX86Walker(X86PagingMode{.levels = 4}, opts);
  const PhysAddr pte_table = pt.EntryAddress(va, 1)->AlignDown(kPageSize4K);
  std::array<uint64_t, 5> entries{};
  FastTranslation fast;
  ASSERT_TRUE(w.TryWalk(mem, pte_table.value(), 1, kPermIndexAll, va, {}, kSpace,
                        entries.data(), &fast));
  alloc.Free(pte_table, "test");
  EXPECT_FALSE(w.TryWalk(mem, pte_table.value(), 1, kPermIndexAll, va, {}, kSpace,
                         entries.data(), &fast));
  EXPECT_EQ(sim.violations().total(), 0);
  FastTranslation t;
  WalkResult r;
  (void)w.WalkTranslated(mem, pte_table.value(), 1, kPermIndexAll, va, {}, opts.agent, kSpace,
                         static_cast<NullObserver*>(nullptr), &t, &r);
  EXPECT_EQ(sim.violations().total(), 1);
}

}  // namespace
}  // namespace svaemu::arch
