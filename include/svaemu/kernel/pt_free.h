// The one function through which kernel page-table pages are freed.
//
// Linux marks kernel page-table pages (ptdesc "kernel" flag); pagetable_free()
// of such a page calls pagetable_free_kernel(). With
// CONFIG_ASYNC_KERNEL_PGTABLE_FREE (mainline, late 2025) that adds the page
// to a list and schedules one work item; the worker (kernel_pgtable_work_func)
// takes the whole list, invalidates the kernel range on every SVA mm once
// (iommu_sva_invalidate_kva_range(PAGE_OFFSET, TLB_FLUSH_ALL)), and only
// then frees the pages. Without it the page is freed at once.
//
// KernelPtFree models both: policy kImmediate frees at once (no hook);
// kDeferredBatch queues the page and a single WorkItem on the system
// workqueue, whose run calls the batch hook once with the batch and then
// frees every page of it. The hook is where the SVA layer puts its KVA
// invalidation; until something installs one it does nothing.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_PT_FREE_H_
#define SVAEMU_KERNEL_PT_FREE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "svaemu/base/strong_types.h"
#include "svaemu/sim/workqueue.h"

namespace svaemu::mem {
class FrameAllocator;
}

namespace svaemu::kernel {

enum class KernelPtFreePolicy {
  kImmediate,      // pre-2025: free at once
  kDeferredBatch,  // mainline: batch on a worker, hook once per batch
};

const char* KernelPtFreePolicyName(KernelPtFreePolicy p);

class KernelPtFree {
 public:
  using BatchHook = std::function<void(std::span<const PhysAddr> batch)>;

  KernelPtFree(sim::Simulation& sim, mem::FrameAllocator& alloc,
               sim::Workqueue& wq, KernelPtFreePolicy policy);
  KernelPtFree(const KernelPtFree&) = delete;
  KernelPtFree& operator=(const KernelPtFree&) = delete;

  // pagetable_free() of a kernel page-table page.
  void Free(PhysAddr table, const char* site);

  // Runs once per batch, before the batch's pages are freed.
  void set_batch_hook(BatchHook hook) { hook_ = std::move(hook); }
  void set_policy(KernelPtFreePolicy p) { policy_ = p; }
  KernelPtFreePolicy policy() const { return policy_; }

  // flush_work() of the worker: runs a pending batch now.
  void Flush() { wq_.FlushWork(&work_); }
  size_t pending() const { return batch_.size(); }
  uint64_t batches_run() const { return batches_run_; }
  uint64_t pages_freed() const { return pages_freed_; }

 private:
  void RunBatch();  // kernel_pgtable_work_func()

  sim::Simulation& sim_;
  mem::FrameAllocator& alloc_;
  sim::Workqueue& wq_;
  KernelPtFreePolicy policy_;
  BatchHook hook_;
  std::vector<std::pair<PhysAddr, const char*>> batch_;
  sim::WorkItem work_;
  uint64_t batches_run_ = 0;
  uint64_t pages_freed_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_PT_FREE_H_
