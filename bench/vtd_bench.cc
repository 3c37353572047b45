// VT-d model benchmarks: translate() on an IOTLB hit, a PDE-cache hit, full
// 4- and 5-level misses (the PDE hit and 4-level miss also with the
// walk checker off), and PASID-based invalidation cost versus the
// number of cached entries of that PASID.
//
//   build-vtd/bench/svaemu_bench --benchmark_filter=Vtd --benchmark_min_time=0.2
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/base/check.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/kernel/drivers/vtd/vtd_driver.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd {
namespace {

constexpr uint16_t kSid = 0x0100;
constexpr uint8_t kRw = kernel::kProtRead | kernel::kProtWrite;

struct BenchMachine {
  explicit BenchMachine(VtdConfig cfg, arch::PtFormat fmt = arch::PtFormat::kX86_4Level)
      : sim({.trace = false}), mem(sim), alloc(mem) {
    kernel = *kernel::Kernel::Create(
        sim, alloc, {.format = fmt, .kernel_pt_free = kernel::KernelPtFreePolicy::kImmediate});
    vtd = *Vtd::Create(sim, mem, cfg);
    drv = *kernel::vtd::VtdDriver::Probe(sim, mem, alloc, *vtd,
                                         {.fault = &vtd->fault_irq(), .prq = &vtd->prq_irq()});
    mm = *kernel->NewMm();
    (void)drv->AttachDevice(StreamId(kSid), {});
  }
  void Bind(uint32_t pasid, kernel::Mm* m, uint8_t levels = 4) {
    (void)drv->SetupFirstStagePasid(StreamId(kSid), Pasid(pasid), m->pgd(), DomainId(1),
                                    {.levels = levels});
  }
  VtdRequest Req(uint32_t pasid, uint64_t addr) {
    return VtdRequest{.sid = kSid, .has_pasid = true, .pasid = pasid, .addr = addr};
  }
  sim::Simulation sim;
  mem::PhysMem mem;
  mem::FrameAllocator alloc;
  std::unique_ptr<kernel::Kernel> kernel;
  std::unique_ptr<Vtd> vtd;
  std::unique_ptr<kernel::vtd::VtdDriver> drv;
  kernel::Mm* mm = nullptr;
};

void BM_VtdTranslateIotlbHit(benchmark::State& state) {
  BenchMachine b({});
  const uint64_t base = b.mm->Mmap(64 * 4096, kRw, true)->value();
  b.Bind(1, b.mm);
  for (int i = 0; i < 64; ++i) (void)b.vtd->Translate(b.Req(1, base + 4096 * i));
  uint64_t i = 0;
  for (auto _ : state) {
    VtdResult r = b.vtd->Translate(b.Req(1, base + ((i++ & 63) << 12)));
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VtdTranslateIotlbHit);

// A tiny IOTLB and 512 pages under one PT: every request misses the IOTLB
// and starts the walk at the PT from the PDE cache (one memory read).
// `check`: the frame-shadow checker on the walk's reads (PhysMem's
// check_walks; off for a simulator that runs no lifetime checks).
void PdeCacheHit(benchmark::State& state, bool check) {
  BenchMachine b({.iotlb_4k = {.entries = 8, .ways = 8}});
  b.mem.set_check_walks(check);
  const uint64_t base = b.mm->Mmap(512 * 4096, kRw, true, VirtAddr(0x40000000))->value();
  b.Bind(1, b.mm);
  for (int i = 0; i < 512; ++i) (void)b.vtd->Translate(b.Req(1, base + 4096 * i));
  uint64_t i = 0;
  for (auto _ : state) {
    VtdResult r = b.vtd->Translate(b.Req(1, base + (((i += 97) & 511) << 12)));
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_VtdTranslatePdeCacheHit(benchmark::State& state) { PdeCacheHit(state, true); }
BENCHMARK(BM_VtdTranslatePdeCacheHit);
void BM_VtdTranslatePdeCacheHit_CheckerOff(benchmark::State& state) {
  PdeCacheHit(state, false);
}
BENCHMARK(BM_VtdTranslatePdeCacheHit_CheckerOff);

// One-line IOTLB and paging-structure caches, two pages under different
// top-level entries, alternated: every request is a full walk from the root.
void FullMiss(benchmark::State& state, arch::PtFormat fmt, uint8_t levels, uint64_t stride,
              bool check = true) {
  const CacheGeometry one{.entries = 1, .ways = 1};
  BenchMachine b({.iotlb_4k = one, .iotlb_2m = one, .iotlb_1g = one, .pde_cache = one,
                  .pdpe_cache = one, .pml4e_cache = one, .pml5e_cache = one}, fmt);
  b.mem.set_check_walks(check);
  const uint64_t a = b.mm->Mmap(4096, kRw, true, VirtAddr(stride))->value();
  const uint64_t c = b.mm->Mmap(4096, kRw, true, VirtAddr(2 * stride))->value();
  b.Bind(1, b.mm, levels);
  const uint64_t walks0 = b.sim.stats().Value("vtd0.walks");
  uint64_t i = 0;
  for (auto _ : state) {
    VtdResult r = b.vtd->Translate(b.Req(1, (i++ & 1) ? a : c));
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["walks_per_req"] =
      static_cast<double>(b.sim.stats().Value("vtd0.walks") - walks0) / state.iterations();
}
void BM_VtdTranslateFull4LevelMiss(benchmark::State& state) {
  FullMiss(state, arch::PtFormat::kX86_4Level, 4, 1ull << 39);
}
BENCHMARK(BM_VtdTranslateFull4LevelMiss);
void BM_VtdTranslateFull4LevelMiss_CheckerOff(benchmark::State& state) {
  FullMiss(state, arch::PtFormat::kX86_4Level, 4, 1ull << 39, /*check=*/false);
}
BENCHMARK(BM_VtdTranslateFull4LevelMiss_CheckerOff);
void BM_VtdTranslateFull5LevelMiss(benchmark::State& state) {
  FullMiss(state, arch::PtFormat::kX86_5Level, 5, 1ull << 48);
}
BENCHMARK(BM_VtdTranslateFull5LevelMiss);

// Floors for the PDE-cache-hit and full-miss benchmarks above: the walker
// the model runs (arch::X86Walker::WalkTranslated, built with the options
// the model builds for a first-stage PASID entry) over the same page tables
// and addresses, from the PT (as after a PDE-cache hit) or from the root
// (as a full miss), with no cache, no counter and no result. The model's
// own miss work is its time minus these.
struct PtOf {  // the table the level-1 entry was read from
  uint64_t pt = 0;
  void OnRead(const arch::LevelRead& r) {
    if (r.level == 1) pt = r.table.value();
  }
};
void RunBareWalk(benchmark::State& state, BenchMachine& b, const std::vector<uint64_t>& vas,
                 bool from_pt) {
  arch::WalkOptions opts;
  opts.write_protect = false;  // the driver's PASID entries: WPE = 0
  opts.nxe = true;
  opts.max_phys_bits = VtdConfig{}.haw;
  const arch::X86Walker w = arch::MakeX86Walker({.levels = 4}, opts);
  const Agent agent = Agent::Iommu(0);
  const SpaceId space = b.mem.Meta(b.mm->pgd()).space;
  const uint64_t root = b.mm->pgd().value();
  // The benchmarks' requests: untranslated reads without privilege.
  constexpr arch::AccessType kUserRead{.user = true};
  std::vector<uint64_t> pts;
  for (uint64_t va : vas) {
    PtOf t;
    arch::FastTranslation f;
    arch::WalkResult fault;
    SVAEMU_CHECK(w.WalkTranslated(b.mem, root, 4, arch::kPermIndexAll, VirtAddr(va), kUserRead,
                                  agent, space, &t, &f, &fault));
    pts.push_back(t.pt);
  }
  const size_t mask = vas.size() - 1;  // a power of two
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = (i += 97) & mask;
    arch::FastTranslation f;
    arch::WalkResult fault;
    const bool ok =
        from_pt ? w.WalkTranslated<arch::NullObserver>(b.mem, pts[k], 1, arch::kPermIndexAll,
                                                       VirtAddr(vas[k]), kUserRead, agent, space,
                                                       nullptr, &f, &fault)
                : w.WalkTranslated<arch::NullObserver>(b.mem, root, 4, arch::kPermIndexAll,
                                                       VirtAddr(vas[k]), kUserRead, agent, space,
                                                       nullptr, &f, &fault);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_VtdFloorBareWalkFromPt(benchmark::State& state) {
  BenchMachine b({});
  const uint64_t base = b.mm->Mmap(512 * 4096, kRw, true, VirtAddr(0x40000000))->value();
  std::vector<uint64_t> vas;
  for (int i = 0; i < 512; ++i) vas.push_back(base + 4096ull * i);
  RunBareWalk(state, b, vas, /*from_pt=*/true);
}
BENCHMARK(BM_VtdFloorBareWalkFromPt);
void BM_VtdFloorBareWalk4Level(benchmark::State& state) {
  BenchMachine b({});
  const uint64_t stride = 1ull << 39;
  const uint64_t a = b.mm->Mmap(4096, kRw, true, VirtAddr(stride))->value();
  const uint64_t c = b.mm->Mmap(4096, kRw, true, VirtAddr(2 * stride))->value();
  RunBareWalk(state, b, {a, c}, /*from_pt=*/false);
}
BENCHMARK(BM_VtdFloorBareWalk4Level);

// PASID-selective invalidation of `N` cached leaves of PASID 1 while
// PASID 2 keeps `background` leaves in the same (large) IOTLB. The host
// time and the modelled cycles grow with N, not with the background.
void BM_VtdPiotlbInvalidate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int background = static_cast<int>(state.range(1));
  BenchMachine b({.iotlb_4k = {.entries = 8192, .ways = 16}});
  kernel::Mm* other = *b.kernel->NewMm();
  const uint64_t va = b.mm->Mmap(uint64_t(n) * 4096, kRw, true)->value();
  const uint64_t vb = other->Mmap(uint64_t(background + 1) * 4096, kRw, true)->value();
  b.Bind(1, b.mm);
  b.Bind(2, other);
  for (int i = 0; i < background; ++i) (void)b.vtd->Translate(b.Req(2, vb + 4096ull * i));
  uint64_t cycles = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < n; ++i) (void)b.vtd->Translate(b.Req(1, va + 4096ull * i));
    const uint64_t t0 = b.sim.now();
    state.ResumeTiming();
    (void)b.drv->FlushPasidAll(DomainId(1), Pasid(1));
    cycles += b.sim.now() - t0;
  }
  state.counters["modelled_cycles"] = static_cast<double>(cycles) / state.iterations();
  state.counters["lines_of_pasid"] = n;
}
BENCHMARK(BM_VtdPiotlbInvalidate)
    ->Args({16, 0})->Args({16, 4096})->Args({256, 4096})->Args({1024, 4096});

}  // namespace
}  // namespace svaemu::hw::vtd
