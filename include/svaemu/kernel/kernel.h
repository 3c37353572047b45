// Kernel: the model of the Linux pieces one machine runs — init_mm and the
// kernel half, processes' mms, the system workqueue, and the one path by
// which kernel page-table pages are freed.
//
// The kernel model reaches hardware only through PhysMem, registers and
// interrupts (../shared/DESIGN.md). Here it owns the CPU side: page tables in
// memory, which the IOMMU models walk.
//
// Example:
//   sim::Simulation sim;
//   mem::PhysMem mem(sim);
//   mem::FrameAllocator alloc(mem);
//   auto k = kernel::Kernel::Create(sim, alloc, {.format = arch::PtFormat::kX86_4Level});
//   absl::StatusOr<kernel::Mm*> mm = (*k)->NewMm();
//   (*mm)->Mmap(1 << 20, kernel::kProtRead | kernel::kProtWrite, /*populate=*/true);
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_KERNEL_H_
#define SVAEMU_KERNEL_KERNEL_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/kernel/kernel_space.h"
#include "svaemu/kernel/mm.h"
#include "svaemu/kernel/pt_free.h"
#include "svaemu/sim/workqueue.h"

namespace svaemu::mem {
class FrameAllocator;
}

namespace svaemu::kernel {

struct KernelConfig {
  arch::PtFormat format = arch::PtFormat::kX86_4Level;
  KernelPtFreePolicy kernel_pt_free = KernelPtFreePolicy::kDeferredBatch;
};

class Kernel {
 public:
  static absl::StatusOr<std::unique_ptr<Kernel>> Create(
      sim::Simulation& sim, mem::FrameAllocator& alloc, KernelConfig config);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // mm_alloc() + pgd_alloc(): mm_users = mm_count = 1, kernel half cloned.
  absl::StatusOr<Mm*> NewMm();

  sim::Simulation& sim() const { return sim_; }
  mem::FrameAllocator& alloc() const { return alloc_; }
  KernelSpace& kspace() { return *kspace_; }
  KernelPtFree& pt_free() { return pt_free_; }
  sim::Workqueue& system_wq() { return system_wq_; }
  const KernelConfig& config() const { return config_; }
  arch::PtFormat format() const { return config_.format; }
  // Every mm ever created, freed ones included (they stay in quarantine).
  const std::vector<std::unique_ptr<Mm>>& mms() const { return mms_; }

 private:
  Kernel(sim::Simulation& sim, mem::FrameAllocator& alloc, KernelConfig config);

  sim::Simulation& sim_;
  mem::FrameAllocator& alloc_;
  KernelConfig config_;
  sim::Workqueue system_wq_;
  KernelPtFree pt_free_;
  std::unique_ptr<KernelSpace> kspace_;
  std::vector<std::unique_ptr<Mm>> mms_;
  uint32_t next_space_ = kKernelSpaceId.value() + 1;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_KERNEL_H_
