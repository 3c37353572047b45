// KernelSpace: init_mm, the kernel half of every address space.
//
// x86-64: init_mm's pgd holds the kernel half in entries 256-511; at boot
// every one of them is given a next-level table (as Linux preallocates the
// kernel PGD/P4D entries), so that a new mm's pgd can copy entries 256-511
// once (pgd_alloc -> clone_pgd_range) and still see every later kernel
// mapping: those tables are shared by all mms. Every kernel table carries the
// kFrameShared shadow flag — the "kernel page-table page" mark — and is freed
// only through KernelPtFree.
// arm64: the kernel half is a separate tree under TTBR1 (swapper_pg_dir);
// user trees (TTBR0) hold no kernel mappings.
//
// vmalloc()/vfree() map 4 KiB pages in the vmalloc area; vfree clears the
// leaves and flushes the kernel TLB but keeps the PTE page, as Linux does.
// VmapHuge() maps a physically contiguous range with 2 MiB or 1 GiB leaves
// where aligned (vmap_try_huge_pmd/pud): if a table already sits in that
// entry, it is cleared, the kernel TLB is flushed for the address, and the
// table page (and, for a PUD, every PTE page below it) is freed through
// KernelPtFree — Linux's pmd_free_pte_page()/pud_free_pmd_page(). That free
// is the origin of seed bug 1.
//
// FlushTlbKernelRange() is flush_tlb_kernel_range(): the CPU TLB is not
// modelled, but listeners run — the posted per-flush KVA invalidation fix
// attaches there.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_KERNEL_SPACE_H_
#define SVAEMU_KERNEL_KERNEL_SPACE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/kernel/va_allocator.h"

namespace svaemu::mem {
class FrameAllocator;
}
namespace svaemu::sim {
class Simulation;
}

namespace svaemu::kernel {

class KernelPtFree;

// SpaceId of init_mm in the frame shadow.
inline constexpr SpaceId kKernelSpaceId{1};

struct KernelLayout {
  VirtAddr kernel_start;   // first kernel-half address
  VirtAddr vmalloc_start;  // 1 GiB aligned
  uint64_t vmalloc_size = 1ull << 40;
};

// Linux's layouts: x86-64 4-level VMALLOC_START 0xffffc90000000000,
// 5-level 0xffa0000000000000; arm64 (48-bit VA) the vmalloc area starts just
// above the modules area at 0xffff800080000000.
KernelLayout DefaultKernelLayout(arch::PtFormat format);

class KernelSpace {
 public:
  using FlushListener = std::function<void(VirtAddr start, VirtAddr end)>;

  static absl::StatusOr<std::unique_ptr<KernelSpace>> Create(
      sim::Simulation& sim, mem::FrameAllocator& alloc, arch::PtFormat format,
      KernelPtFree& pt_free);

  SpaceId space() const { return kKernelSpaceId; }
  arch::PtFormat format() const { return builder_.format(); }
  // x86: init_mm.pgd. arm64: TTBR1 (swapper_pg_dir).
  PhysAddr root() const { return builder_.root(); }
  const KernelLayout& layout() const { return layout_; }
  bool IsKernelAddress(VirtAddr va) const { return va >= layout_.kernel_start; }

  // x86: copies the kernel-half entries of init_mm's pgd into `pgd`
  // (pgd_alloc). arm64: nothing to do (TTBR1 is separate).
  void CloneKernelHalf(PhysAddr pgd);

  // vmalloc(): `size` rounded up to 4 KiB, backed by fresh data frames,
  // followed by an unmapped guard page.
  absl::StatusOr<VirtAddr> Vmalloc(uint64_t size);
  // vfree(): NotFound unless `va` starts a vmalloc area.
  absl::Status Vfree(VirtAddr va);
  // vmap of [pa, pa + size) with leaves of `page_size` (4 KiB, 2 MiB, 1 GiB);
  // pa and size must be aligned to page_size. The VA is the lowest free one
  // aligned to page_size.
  absl::StatusOr<VirtAddr> VmapHuge(PhysAddr pa, uint64_t size,
                                    uint64_t page_size);
  // vunmap() of a VmapHuge area (the frames stay with their owner).
  absl::Status Vunmap(VirtAddr va);

  // flush_tlb_kernel_range().
  void FlushTlbKernelRange(VirtAddr start, VirtAddr end);
  void AddFlushListener(FlushListener fn) { listeners_.push_back(std::move(fn)); }

  // Kernel (privileged) data access through the kernel tables.
  absl::Status Write(VirtAddr va, std::span<const uint8_t> data);
  absl::Status Read(VirtAddr va, std::span<uint8_t> out);
  std::optional<arch::Translation> Lookup(VirtAddr va) const {
    return builder_.Lookup(va);
  }
  arch::PageTableBuilder& builder() { return builder_; }

  uint64_t tlb_flushes() const { return tlb_flushes_; }

 private:
  struct Area {
    uint64_t size;                // mapped bytes
    std::vector<PhysAddr> frames;  // data frames owned (vmalloc only)
    bool owns_frames;
  };
  KernelSpace(sim::Simulation& sim, mem::FrameAllocator& alloc,
              arch::PageTableBuilder builder, KernelPtFree& pt_free,
              KernelLayout layout);
  absl::Status PreallocateKernelHalf();
  absl::Status Access(VirtAddr va, std::span<uint8_t> buf, bool write);

  sim::Simulation& sim_;
  mem::FrameAllocator& alloc_;
  arch::PageTableBuilder builder_;
  KernelPtFree& pt_free_;
  KernelLayout layout_;
  VaAllocator vmalloc_va_;
  std::map<VirtAddr, Area> areas_;
  std::vector<FlushListener> listeners_;
  uint64_t tlb_flushes_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_KERNEL_SPACE_H_
