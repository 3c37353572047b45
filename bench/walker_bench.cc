// Page-table walk cost, host time per walk, entries read from PhysMem with
// the frame-shadow checker on. Each walk translates a different VA of a
// populated 64 MiB range (16384 4 KiB pages, 32 PTE tables), in a seeded
// random order, so the walks do not all hit one cached line. A bits are
// pre-set by the builder, so no walk issues a compare-exchange.
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/walker.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/base/check.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::arch {
namespace {

constexpr uint64_t kRange = 64ull << 20;
constexpr size_t kVas = 1 << 14;
constexpr SpaceId kSpace{1};

struct Tree {
  explicit Tree(PtFormat f, VirtAddr base, bool check = true)
      : sim(sim::SimConfig{.trace = false}),
        mem(sim, mem::PhysMemConfig{.check_walks = check}),
        alloc(mem),
        pt(*PageTableBuilder::Create(alloc, f, kSpace, "bench_pgd")) {
    const PhysAddr data(16ull << 30);
    SVAEMU_CHECK(pt.Map(base, data, kRange, kPageSize4K, {}).ok());
    std::mt19937_64 rng(42);
    vas.reserve(kVas);
    for (size_t i = 0; i < kVas; ++i) {
      vas.push_back(base + (rng() % kRange) / 8 * 8);
    }
    opts.agent = Agent::Iommu(0);
    opts.space = kSpace;
  }
  sim::Simulation sim;
  mem::PhysMem mem;
  mem::FrameAllocator alloc;
  PageTableBuilder pt;
  std::vector<VirtAddr> vas;
  WalkOptions opts;
};

const VirtAddr kBase{0x00007f0000000000};

void RunX86(benchmark::State& state, Tree& t, uint8_t levels) {
  const X86PagingMode mode{.levels = levels};
  SVAEMU_CHECK(WalkX86(t.mem, t.pt.root(), mode, t.vas[0], {}, t.opts)
                   .ad_updates == 0);
  size_t i = 0;
  for (auto _ : state) {
    WalkResult r = WalkX86(t.mem, t.pt.root(), mode, t.vas[i++ & (kVas - 1)],
                           AccessType{}, t.opts);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_WalkX86_4Level(benchmark::State& state) {
  Tree t(PtFormat::kX86_4Level, kBase);
  RunX86(state, t, 4);
}
BENCHMARK(BM_WalkX86_4Level);

void BM_WalkX86_4Level_CheckerOff(benchmark::State& state) {
  Tree t(PtFormat::kX86_4Level, kBase, /*check=*/false);
  RunX86(state, t, 4);
}
BENCHMARK(BM_WalkX86_4Level_CheckerOff);

void BM_WalkX86_4Level_OneVa(benchmark::State& state) {
  // Always the same VA: every entry stays in L1, so this is the walker's
  // own cost (four checked reads, decode, result) without cache misses.
  Tree t(PtFormat::kX86_4Level, kBase);
  const X86PagingMode mode{.levels = 4};
  for (auto _ : state) {
    WalkResult r =
        WalkX86(t.mem, t.pt.root(), mode, t.vas[0], AccessType{}, t.opts);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WalkX86_4Level_OneVa);

void BM_WalkX86_5Level(benchmark::State& state) {
  Tree t(PtFormat::kX86_5Level, kBase);
  RunX86(state, t, 5);
}
BENCHMARK(BM_WalkX86_5Level);

void BM_WalkX86_4Level_Write(benchmark::State& state) {
  // Pre-dirty every page once so that the timed loop does no exchange.
  Tree t(PtFormat::kX86_4Level, kBase);
  const X86PagingMode mode{.levels = 4};
  for (uint64_t off = 0; off < kRange; off += kPageSize4K) {
    WalkX86(t.mem, t.pt.root(), mode, kBase + off, {.write = true}, t.opts);
  }
  size_t i = 0;
  for (auto _ : state) {
    WalkResult r = WalkX86(t.mem, t.pt.root(), mode, t.vas[i++ & (kVas - 1)],
                           AccessType{.write = true}, t.opts);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WalkX86_4Level_Write);

void BM_WalkArm64_4Level(benchmark::State& state) {
  Tree t(PtFormat::kArm64_4K48, kBase);
  const Arm64Stage1Config cfg{.ttbr0 = t.pt.root()};
  SVAEMU_CHECK(WalkArm64(t.mem, cfg, t.vas[0], {}, t.opts).ok());
  size_t i = 0;
  for (auto _ : state) {
    WalkResult r =
        WalkArm64(t.mem, cfg, t.vas[i++ & (kVas - 1)], AccessType{}, t.opts);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WalkArm64_4Level);

void BM_WalkX86_FromLevel2(benchmark::State& state) {
  // A paging-structure cache hit on the PDPTE: the walk reads PDE and PTE.
  Tree t(PtFormat::kX86_4Level, kBase);
  const X86PagingMode mode{.levels = 4};
  const WalkStart start{
      .table = X86Entry{*t.pt.ReadEntry(kBase, 3)}.address(), .level = 2};
  SVAEMU_CHECK(WalkX86(t.mem, start, mode, t.vas[0], {}, t.opts).reads == 2);
  size_t i = 0;
  for (auto _ : state) {
    WalkResult r = WalkX86(t.mem, start, mode, t.vas[i++ & (kVas - 1)],
                           AccessType{}, t.opts);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WalkX86_FromLevel2);

// The prepared walker (walker.h) as the IOMMU models run it: format built
// once, walk from a WalkStart, no pre-walk checks. One VA, so every entry
// stays in L1: the walk loop's own cost, from the root (4 reads) or from
// the last-level table (a PDE-cache / L2 walk-cache hit, 1 read).
void RunPrepared(benchmark::State& state, uint8_t start_level) {
  Tree t(PtFormat::kX86_4Level, kBase);
  const X86Walker w = MakeX86Walker(X86PagingMode{.levels = 4}, t.opts);
  WalkStart start{.table = t.pt.root(), .level = 4};
  if (start_level == 1) {
    start = WalkStart{.table = X86Entry{*t.pt.ReadEntry(t.vas[0], 2)}.address(), .level = 1};
  }
  SVAEMU_CHECK(w.Walk(t.mem, start, t.vas[0], {}, t.opts.agent, t.opts.space).reads ==
               start_level);
  for (auto _ : state) {
    WalkResult r = w.Walk(t.mem, start, t.vas[0], AccessType{}, t.opts.agent, t.opts.space);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_PreparedWalkX86_4Level_OneVa(benchmark::State& state) { RunPrepared(state, 4); }
BENCHMARK(BM_PreparedWalkX86_4Level_OneVa);
void BM_PreparedWalkX86_FromLevel1_OneVa(benchmark::State& state) { RunPrepared(state, 1); }
BENCHMARK(BM_PreparedWalkX86_FromLevel1_OneVa);

}  // namespace
}  // namespace svaemu::arch
