#include "svaemu/kernel/kernel.h"

#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

absl::StatusOr<std::unique_ptr<Kernel>> Kernel::Create(
    sim::Simulation& sim, mem::FrameAllocator& alloc, KernelConfig config) {
  std::unique_ptr<Kernel> k(new Kernel(sim, alloc, config));
  absl::StatusOr<std::unique_ptr<KernelSpace>> ks =
      KernelSpace::Create(sim, alloc, config.format, k->pt_free_);
  if (!ks.ok()) return ks.status();
  k->kspace_ = *std::move(ks);
  return k;
}

Kernel::Kernel(sim::Simulation& sim, mem::FrameAllocator& alloc,
               KernelConfig config)
    : sim_(sim),
      alloc_(alloc),
      config_(config),
      system_wq_(sim, "events"),
      pt_free_(sim, alloc, system_wq_, config.kernel_pt_free) {}

Kernel::~Kernel() = default;

absl::StatusOr<Mm*> Kernel::NewMm() {
  const SpaceId space(next_space_++);
  // The pgd is the root of this mm's tree; on x86 its upper half points at
  // the shared kernel tables.
  absl::StatusOr<PhysAddr> pgd = alloc_.AllocatePageTable(
      {.space = space,
       .level = arch::PtFormatTopLevel(config_.format),
       .va_base = VirtAddr(0),
       .flags = mem::kFrameRoot},
      "pgd_alloc");
  if (!pgd.ok()) return pgd.status();
  kspace_->CloneKernelHalf(*pgd);
  mms_.push_back(std::make_unique<Mm>(*this, space, *pgd));
  sim_.Trace("kernel", "mm_alloc", std::to_string(space.value()));
  return mms_.back().get();
}

}  // namespace svaemu::kernel
