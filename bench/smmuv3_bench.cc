// SMMUv3 model: host time of translate() on a TLB hit, a walk-cache hit and
// a full 4-level miss; TLBI + SYNC against the number of cached entries;
// one stall round trip (fault -> event -> IRQ threads -> CMD_RESUME ->
// completion). Release build, one thread.
#include <cstdint>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "svaemu/arch/arm64.h"
#include "svaemu/base/check.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/kernel/drivers/smmuv3/driver.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::smmuv3 {
namespace {

using kernel::drivers::smmuv3::SmmuV3Driver;

constexpr uint32_t kSid = 1;
constexpr uint32_t kSsid = 1;

struct Machine {
  explicit Machine(SmmuV3Config cfg = {}, bool stall = false)
      : sim(sim::SimConfig{.trace = false}),
        mem(sim),
        alloc(mem),
        smmu_owned(*SmmuV3::Create(sim, mem, cfg)),
        smmu(*smmu_owned) {
    kern = *kernel::Kernel::Create(sim, alloc, {.format = arch::PtFormat::kArm64_4K48});
    driver = *SmmuV3Driver::Probe(
        sim, alloc, smmu,
        {.evtq = &smmu.evtq_irq(), .priq = &smmu.priq_irq(),
         .cmd_sync = &smmu.cmd_sync_irq(), .gerror = &smmu.gerror_irq()});
    mm = *kern->NewMm();
    SVAEMU_CHECK(driver->AttachMaster({.sid = StreamId(kSid), .stall = stall}).ok());
    SVAEMU_CHECK(driver->WriteSvaCd(StreamId(kSid), kSsid, mm->pgd(), Asid(1)).ok());
  }
  TransReq Req(VirtAddr va) const {
    return TransReq{.sid = StreamId(kSid), .ssv = true, .ssid = kSsid, .va = va};
  }
  sim::Simulation sim;
  mem::PhysMem mem;
  mem::FrameAllocator alloc;
  std::unique_ptr<SmmuV3> smmu_owned;  // Create() with a valid configuration
  SmmuV3& smmu;
  std::unique_ptr<kernel::Kernel> kern;
  std::unique_ptr<SmmuV3Driver> driver;
  kernel::Mm* mm = nullptr;
};

void Run(benchmark::State& state, Machine& m, const std::vector<TransReq>& reqs) {
  for (const TransReq& r : reqs) {
    SVAEMU_CHECK(m.smmu.Translate(r).status == TransStatus::kTranslated);
  }
  const size_t mask = reqs.size() - 1;  // a power of two
  size_t i = 0;
  for (auto _ : state) {
    TransResult r = m.smmu.Translate(reqs[i++ & mask]);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// 16 pages, all in the TLB.
void BM_SmmuV3_TranslateTlbHit(benchmark::State& state) {
  Machine m;
  const VirtAddr va = *m.mm->Mmap(16 * kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);
  std::vector<TransReq> reqs;
  for (int i = 0; i < 16; ++i) reqs.push_back(m.Req(va + i * kPageSize4K + 64));
  Run(state, m, reqs);
}
BENCHMARK(BM_SmmuV3_TranslateTlbHit);

// 512 pages of one 2 MiB region through a 64-entry TLB: every access misses
// the TLB and starts the walk at the cached L3 table (one read). `check`:
// the frame-shadow checker on the walk's reads (PhysMem's check_walks; off
// for a simulator that runs no lifetime checks).
void WalkCacheHit(benchmark::State& state, bool check) {
  Machine m({.tlb = {.sets = 16, .ways = 4}});
  m.mem.set_check_walks(check);
  const VirtAddr va = *m.mm->Mmap(512 * kPageSize4K, kernel::kProtRead | kernel::kProtWrite,
                                  true, VirtAddr(0x40000000));
  std::vector<TransReq> reqs;
  for (int i = 0; i < 512; ++i) reqs.push_back(m.Req(va + ((i * 97) % 512) * kPageSize4K));
  Run(state, m, reqs);
}
void BM_SmmuV3_TranslateWalkCacheHit(benchmark::State& state) { WalkCacheHit(state, true); }
BENCHMARK(BM_SmmuV3_TranslateWalkCacheHit);
void BM_SmmuV3_TranslateWalkCacheHit_CheckerOff(benchmark::State& state) {
  WalkCacheHit(state, false);
}
BENCHMARK(BM_SmmuV3_TranslateWalkCacheHit_CheckerOff);

// 256 pages, each in its own 512 GiB region (own L1, L2, L3 tables), through
// a 64-entry TLB and 64-entry walk caches: every access walks all 4 levels.
// The tables' 1,024 pages do not fit the host's L1 cache.
//
// `spread` false puts every page at the start of its region (VA = i << 39):
// each L1, L2 and L3 read is then of its table's first line, so all 768 of
// those lines share one host L1 set and 16 host L2 sets, and each request
// pays three host L2 misses by construction (callgrind's cache model:
// 3.00 a call; 0.00 with `spread`), a measure of the host's L3 latency
// more than of the model. `spread` true gives each level's index a
// different multiple of i (odd factors, mod 512), so the lines a walk
// reads fall in different host sets, as the tables of a real address
// space's scattered mappings do. docs/performance.md, "How a target is
// judged".
void FullMiss(benchmark::State& state, bool check, bool spread = false) {
  Machine m({.tlb = {.sets = 16, .ways = 4}});
  m.mem.set_check_walks(check);
  std::vector<TransReq> reqs;
  for (uint64_t i = 1; i <= 256; ++i) {
    uint64_t v = i << 39;
    if (spread) {
      v |= (i * 37 % 512) << 30 | (i * 101 % 512) << 21 | (i * 59 % 512) << 12;
    }
    const VirtAddr va = *m.mm->Mmap(kPageSize4K, kernel::kProtRead, true, VirtAddr(v));
    reqs.push_back(m.Req(va));
  }
  Run(state, m, reqs);
  state.counters["reads_per_translate"] = benchmark::Counter(
      static_cast<double>(m.sim.stats().Value("smmu0.walk.reads")) /
      static_cast<double>(state.iterations() + 256));
}
void BM_SmmuV3_TranslateFullMiss(benchmark::State& state) { FullMiss(state, true); }
BENCHMARK(BM_SmmuV3_TranslateFullMiss);
void BM_SmmuV3_TranslateFullMiss_CheckerOff(benchmark::State& state) { FullMiss(state, false); }
BENCHMARK(BM_SmmuV3_TranslateFullMiss_CheckerOff);
void BM_SmmuV3_TranslateFullMissSpread(benchmark::State& state) {
  FullMiss(state, true, /*spread=*/true);
}
BENCHMARK(BM_SmmuV3_TranslateFullMissSpread);

// The VT-d full-miss shape (vtd_bench.cc, FullMiss): one-line TLB and walk
// caches, two pages under different level-0 entries, alternated. Every
// request walks all 4 levels, but the 8 table pages stay in the host's L1,
// so this measures the model's miss work without host cache misses; the
// benchmark above adds those (1,024 table pages).
void BM_SmmuV3_TranslateFullMissHotTables(benchmark::State& state) {
  const CacheGeometry one{.sets = 1, .ways = 1};
  Machine m({.tlb = one, .walk_cache = one});
  std::vector<TransReq> reqs;
  for (uint64_t i = 1; i <= 2; ++i) {
    const VirtAddr va = *m.mm->Mmap(kPageSize4K, kernel::kProtRead, true, VirtAddr(i << 39));
    reqs.push_back(m.Req(va));
  }
  const uint64_t reads0 = m.sim.stats().Value("smmu0.walk.reads");
  Run(state, m, reqs);
  state.counters["reads_per_translate"] = benchmark::Counter(
      static_cast<double>(m.sim.stats().Value("smmu0.walk.reads") - reads0) /
      static_cast<double>(state.iterations() + 2));
}
BENCHMARK(BM_SmmuV3_TranslateFullMissHotTables);

// Floors for the two miss benchmarks above: the bare arm64 walker
// (arch::WalkArm64, no caches, no statistics) over the same page tables and
// VAs, from the root (as a full miss) or from the L3 table (as a walk-cache
// hit). The model's miss overhead is its time minus these.
struct TableOf {  // the table the level-1 entry was read from
  PhysAddr l3;
  void OnRead(const arch::LevelRead& r) {
    if (r.level == 1) l3 = r.table;
  }
};
void RunBareWalk(benchmark::State& state, Machine& m,
                 const std::vector<TransReq>& reqs, bool from_l3) {
  const arch::Arm64Stage1Config s1{.ttbr0 = m.mm->pgd()};
  arch::WalkOptions opts;
  opts.agent = Agent::Iommu(0);
  opts.space = m.mem.Meta(m.mm->pgd()).space;
  std::vector<arch::WalkStart> starts;
  for (const TransReq& r : reqs) {
    TableOf t;
    SVAEMU_CHECK(arch::WalkArm64(m.mem, s1, r.va, {}, opts, &t).ok());
    starts.push_back(arch::WalkStart{.table = t.l3, .level = 1});
  }
  const size_t mask = reqs.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ & mask;
    arch::WalkResult w =
        from_l3 ? arch::WalkArm64(m.mem, s1, starts[k], reqs[k].va, {}, opts)
                : arch::WalkArm64(m.mem, s1, reqs[k].va, {}, opts);
    benchmark::DoNotOptimize(w);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_SmmuV3_FloorBareWalkFromL3(benchmark::State& state) {
  Machine m;
  const VirtAddr va = *m.mm->Mmap(512 * kPageSize4K, kernel::kProtRead | kernel::kProtWrite,
                                  true, VirtAddr(0x40000000));
  std::vector<TransReq> reqs;
  for (int i = 0; i < 512; ++i) reqs.push_back(m.Req(va + ((i * 97) % 512) * kPageSize4K));
  RunBareWalk(state, m, reqs, /*from_l3=*/true);
}
BENCHMARK(BM_SmmuV3_FloorBareWalkFromL3);
void BM_SmmuV3_FloorBareWalk4Level(benchmark::State& state) {
  Machine m;
  std::vector<TransReq> reqs;
  for (uint64_t i = 1; i <= 256; ++i) {
    const VirtAddr va = *m.mm->Mmap(kPageSize4K, kernel::kProtRead, true, VirtAddr(i << 39));
    reqs.push_back(m.Req(va));
  }
  RunBareWalk(state, m, reqs, /*from_l3=*/false);
}
BENCHMARK(BM_SmmuV3_FloorBareWalk4Level);

// TLBI_NH_VA (one page) or TLBI_NH_ASID, then CMD_SYNC and the wait, with
// `range(0)` TLB entries cached (refilled outside the timing).
void TlbiBench(benchmark::State& state, bool by_asid) {
  Machine m({.tlb = {.sets = 512, .ways = 4}});
  const int n = static_cast<int>(state.range(0));
  const VirtAddr va = *m.mm->Mmap(std::max(n, 1) * kPageSize4K, kernel::kProtRead, true);
  uint64_t cycles = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < n; ++i) m.smmu.Translate(m.Req(va + i * kPageSize4K));
    const uint64_t t0 = m.sim.now();
    state.ResumeTiming();
    const absl::Status s = by_asid ? m.driver->TlbiAsid(Asid(1))
                                   : m.driver->TlbiVa(Asid(1), va, kPageSize4K, true);
    benchmark::DoNotOptimize(s);
    cycles += m.sim.now() - t0;
  }
  state.counters["modelled_cycles"] = benchmark::Counter(
      static_cast<double>(cycles) / static_cast<double>(state.iterations()));
}
void BM_SmmuV3_TlbiVaSync(benchmark::State& state) { TlbiBench(state, false); }
void BM_SmmuV3_TlbiAsidSync(benchmark::State& state) { TlbiBench(state, true); }
BENCHMARK(BM_SmmuV3_TlbiVaSync)->Arg(0)->Arg(64)->Arg(1024);
BENCHMARK(BM_SmmuV3_TlbiAsidSync)->Arg(0)->Arg(64)->Arg(1024);

// A fault handler that maps the page and answers at once.
class Resolver : public kernel::IopfSink {
 public:
  Resolver(SmmuV3Driver& d, kernel::Mm& mm) : d_(d), mm_(mm) {}
  void ReportFault(const kernel::FaultSource& src, const kernel::IopfFault& f) override {
    mm_.HandleFault(f.addr, {});
    d_.PageResponse(src, f, kernel::PageResponseCode::kSuccess);
  }

 private:
  SmmuV3Driver& d_;
  kernel::Mm& mm_;
};

// Stall on an unpopulated page -> EVTQ -> hard + threaded IRQ -> fault
// handler -> CMD_RESUME -> retry -> completion. The page is unmapped again
// outside the timing.
void BM_SmmuV3_StallRoundTrip(benchmark::State& state) {
  Machine m({}, /*stall=*/true);
  Resolver resolver(*m.driver, *m.mm);
  m.driver->set_iopf_sink(&resolver);
  SVAEMU_CHECK(m.driver->AttachSsid(StreamId(kSid), kSsid, 1).ok());
  const VirtAddr va = *m.mm->Mmap(kPageSize4K, kernel::kProtRead, false);
  uint64_t cycles = 0;
  for (auto _ : state) {
    bool done = false;
    const uint64_t t0 = m.sim.now();
    m.smmu.Translate(pci::DmaRequest{.rid = StreamId(kSid), .has_pasid = true,
                                     .pasid = Pasid(kSsid), .addr = va},
                     [&](const pci::DmaResult&) { done = true; });
    while (!done && m.sim.events().Step()) {
    }
    SVAEMU_CHECK(done);
    cycles += m.sim.now() - t0;
    state.PauseTiming();
    SVAEMU_CHECK(m.mm->Munmap(va, kPageSize4K).ok());
    SVAEMU_CHECK(m.mm->Mmap(kPageSize4K, kernel::kProtRead, false, va).ok());
    // Munmap freed the page-table page too: drop walk-cache entries as well.
    SVAEMU_CHECK(m.driver->TlbiVa(Asid(1), va, kPageSize4K, /*leaf=*/false).ok());
    state.ResumeTiming();
  }
  state.counters["modelled_cycles"] = benchmark::Counter(
      static_cast<double>(cycles) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SmmuV3_StallRoundTrip);

}  // namespace
}  // namespace svaemu::hw::smmuv3
