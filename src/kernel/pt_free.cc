#include "svaemu/kernel/pt_free.h"

#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

const char* KernelPtFreePolicyName(KernelPtFreePolicy p) {
  switch (p) {
    case KernelPtFreePolicy::kImmediate: return "immediate";
    case KernelPtFreePolicy::kDeferredBatch: return "deferred_batch";
  }
  return "?";
}

KernelPtFree::KernelPtFree(sim::Simulation& sim, mem::FrameAllocator& alloc,
                           sim::Workqueue& wq, KernelPtFreePolicy policy)
    : sim_(sim),
      alloc_(alloc),
      wq_(wq),
      policy_(policy),
      work_([this] { RunBatch(); }) {}

void KernelPtFree::Free(PhysAddr table, const char* site) {
  if (policy_ == KernelPtFreePolicy::kImmediate) {
    sim_.Trace("kernel", "pt_free", Hex(table.value()));
    alloc_.Free(table, site);
    ++pages_freed_;
    return;
  }
  // pagetable_free_kernel(): list_add + schedule_work.
  batch_.emplace_back(table, site);
  sim_.Trace("kernel", "pt_free_deferred", Hex(table.value()));
  wq_.Queue(&work_);
}

void KernelPtFree::RunBatch() {
  // list_splice_tail_init(): pages freed while the hook runs start a new
  // batch (and requeue the work).
  std::vector<std::pair<PhysAddr, const char*>> batch;
  batch.swap(batch_);
  if (batch.empty()) return;
  std::vector<PhysAddr> frames;
  frames.reserve(batch.size());
  for (const auto& [f, site] : batch) frames.push_back(f);
  ++batches_run_;
  sim_.Trace("kernel", "pt_free_batch", std::to_string(frames.size()));
  if (hook_) hook_(frames);
  for (const auto& [f, site] : batch) {
    alloc_.Free(f, site);
    ++pages_freed_;
  }
}

}  // namespace svaemu::kernel
