// PhysMem::Read64 cost on the walker's hot path: a page-table read with the
// checker comparing the frame shadow, a read of a frame the allocator never
// tracked, and a read of a frame never written (no storage: reads as zero).
// Slots vary over the frame so that the loop is not one cached word.
#include <cstdint>

#include "benchmark/benchmark.h"
#include "svaemu/base/check.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::mem {
namespace {

constexpr SpaceId kSpace{1};

struct Memory {
  Memory() : sim(sim::SimConfig{.trace = false}), mem(sim), alloc(mem) {}
  sim::Simulation sim;
  PhysMem mem;
  FrameAllocator alloc;
};

void ReadLoop(benchmark::State& state, PhysMem& mem, PhysAddr frame,
              const Access& a) {
  uint64_t i = 0;
  uint64_t sum = 0;
  for (auto _ : state) {
    uint64_t v;
    mem.Read64(frame + 8 * (i++ & 511), a, &v);
    sum += v;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void BM_Read64_TrackedPageTable_Checked(benchmark::State& state) {
  Memory m;
  const VirtAddr va(0x7f0000200000);
  absl::StatusOr<PhysAddr> pt = m.alloc.AllocatePageTable(
      PageTableTag{.space = kSpace, .level = 1, .va_base = va}, "bench");
  SVAEMU_CHECK(pt.ok());
  for (unsigned s = 0; s < 512; ++s) {
    m.mem.Write64(*pt + 8 * s, s * 0x1000 + 0x27, Access::Cpu());
  }
  Access a;
  a.agent = Agent::Iommu(0);
  a.purpose = Purpose::kPageTableWalk;
  a.level = 1;
  a.space = kSpace;
  a.va = va;
  ReadLoop(state, m.mem, *pt, a);
  SVAEMU_CHECK(m.sim.violations().total() == 0);
}
BENCHMARK(BM_Read64_TrackedPageTable_Checked);

void BM_Read64_Untracked(benchmark::State& state) {
  Memory m;
  const PhysAddr frame(0x5000);  // below the allocator's range: untracked
  for (unsigned s = 0; s < 512; ++s) {
    m.mem.Write64(frame + 8 * s, s, Access::Cpu());
  }
  Access a = Access::Cpu(Purpose::kPageTableWalk);
  a.level = 1;
  ReadLoop(state, m.mem, frame, a);
}
BENCHMARK(BM_Read64_Untracked);

void BM_Read64_UntouchedFrame(benchmark::State& state) {
  Memory m;
  Access a = Access::Cpu(Purpose::kPageTableWalk);
  a.level = 1;
  ReadLoop(state, m.mem, PhysAddr(32ull << 30), a);
}
BENCHMARK(BM_Read64_UntouchedFrame);

}  // namespace
}  // namespace svaemu::mem
