// The cost of keeping N bound address spaces on M IOMMUs coherent when the
// kernel frees page-table pages (seed bug 1's fixes), per freed page: in
// modelled cycles of IOMMU invalidation and in host time.
//
// Each iteration: vmalloc a page, vfree it, vmap a 2 MiB range over it
// (which frees its PTE page), vunmap — one kernel page-table page freed, two
// kernel TLB flushes. per_flush invalidates every bound mm on every unit at
// each flush; deferred_batch invalidates the whole kernel range once per
// batch of freed pages (here one page per batch: the worker runs between
// iterations); user_only_root and none never invalidate.
#include <benchmark/benchmark.h>

#include "svaemu/platform/platform.h"

namespace svaemu {
namespace {

void RunKvaCost(benchmark::State& state, kernel::KvaInvalidation policy) {
  const int mms = static_cast<int>(state.range(0));
  const int units = static_cast<int>(state.range(1));
  platform::PlatformConfig c;
  c.iommu_units = static_cast<uint16_t>(units);
  c.policies.kva_invalidation = policy;
  auto p = *platform::Platform::Create(c);
  for (int i = 0; i < mms; ++i) {
    kernel::Mm* mm = *p->NewProcess();
    for (size_t d = 0; d < p->num_devices(); ++d) {
      if (!p->sva().Bind(*p->device(d).dev, *mm).ok()) state.SkipWithError("bind");
    }
  }
  kernel::KernelSpace& ks = p->kernel().kspace();
  const PhysAddr backing = *p->alloc().AllocateContiguous(
      512, kPageSize2M, mem::FrameUse::kData, "bench", kernel::kKernelSpaceId);
  const uint64_t cycles0 = p->invalidation_cycles();
  const uint64_t freed0 = p->kernel().pt_free().pages_freed();
  for (auto _ : state) {
    VirtAddr va = *ks.Vmalloc(kPageSize4K);
    (void)ks.Vfree(va);
    VirtAddr huge = *ks.VmapHuge(backing, kPageSize2M, kPageSize2M);
    (void)ks.Vunmap(huge);
    p->sim().RunUntilIdle(1'000'000);
  }
  const double freed = static_cast<double>(p->kernel().pt_free().pages_freed() - freed0);
  state.counters["modelled_inv_cycles_per_freed_pt"] =
      freed > 0 ? static_cast<double>(p->invalidation_cycles() - cycles0) / freed : 0;
  state.counters["freed_pt_pages"] = freed;
}

void BM_KvaInvalidation_PerFlush(benchmark::State& s) {
  RunKvaCost(s, kernel::KvaInvalidation::kPerFlush);
}
void BM_KvaInvalidation_DeferredBatch(benchmark::State& s) {
  RunKvaCost(s, kernel::KvaInvalidation::kDeferredBatch);
}
void BM_KvaInvalidation_UserOnlyRoot(benchmark::State& s) {
  RunKvaCost(s, kernel::KvaInvalidation::kUserOnlyRoot);
}
void BM_KvaInvalidation_None(benchmark::State& s) {
  RunKvaCost(s, kernel::KvaInvalidation::kNone);
}

// Args: {bound mms N, IOMMU units M}.
#define KVA_ARGS ArgsProduct({{1, 4, 16}, {1, 4}})->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_KvaInvalidation_PerFlush)->KVA_ARGS;
BENCHMARK(BM_KvaInvalidation_DeferredBatch)->KVA_ARGS;
BENCHMARK(BM_KvaInvalidation_UserOnlyRoot)->KVA_ARGS;
BENCHMARK(BM_KvaInvalidation_None)->Args({1, 1})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace svaemu
