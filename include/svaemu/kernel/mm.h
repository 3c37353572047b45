// Mm: a process address space (mm_struct), with Linux's two reference counts.
//
// mm_users counts users of the address space (threads, mmget() callers);
// mm_count counts references to the struct (mmgrab() callers), and all users
// together hold one mm_count. Transitions, as in kernel/fork.c:
//   mmput() to mm_users == 0 -> __mmput(): exit_mmap() — mmu notifier
//     release (each subscription unlinked as it is called), every VMA
//     unmapped and its data frames freed, the user page-table pages freed
//     (free_pgtables) — then mmdrop().
//   mmdrop() to mm_count == 0 -> __mmdrop(): the drop hooks run (that is
//     where mm_pasid_drop() frees the PASID in the fixed kernel), the pgd page
//     is freed (pgd_free), and the mm is freed (quarantined, see KObject).
// So the pgd outlives exit_mmap() as long as anybody holds mm_count — which
// is why an IOMMU PASID entry that still points at it walks a live, empty
// tree after exit.
//
// VMAs are anonymous; Mmap() populates eagerly or leaves pages to
// HandleFault(), the handler that the IO page-fault path calls
// (iommu_sva_handle_mm(): VMA and access checks, then handle_mm_fault()).
// Munmap/Mprotect flush the range and run the notifiers'
// InvalidateSecondaryTlbs, then free what they unmapped.
//
// Misuse (mmget on an exited mm, an unmatched put/drop) returns
// FailedPrecondition; a use of an mm after __mmdrop() also reports
// kKernelObjectUseAfterFree.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_MM_H_
#define SVAEMU_KERNEL_MM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/arch/walk.h"
#include "svaemu/kernel/kobject.h"
#include "svaemu/kernel/mmu_notifier.h"
#include "svaemu/kernel/va_allocator.h"

namespace svaemu::kernel {

class Kernel;

// PROT_* bits.
inline constexpr uint8_t kProtNone = 0;
inline constexpr uint8_t kProtRead = 1;
inline constexpr uint8_t kProtWrite = 2;
inline constexpr uint8_t kProtExec = 4;

struct Vma {
  VirtAddr start;
  VirtAddr end;  // exclusive
  uint8_t prot = kProtNone;
};

enum class FaultResult {
  kHandled,  // the page is mapped with the requested access now
  kSegv,     // no VMA, or the VMA forbids the access
  kOom,      // no frame for the page
};

class Mm : public KObject {
 public:
  // Use Kernel::NewMm().
  Mm(Kernel& kernel, SpaceId space, PhysAddr pgd);
  ~Mm() override;

  SpaceId space() const { return space_; }
  // x86: the CR3 root (PML4/PML5). arm64: the TTBR0 root.
  PhysAddr pgd() const { return builder_.root(); }
  arch::PtFormat format() const { return builder_.format(); }
  int users() const { return users_; }
  int count() const { return count_; }
  bool exited() const { return exited_; }

  // mmget(): FailedPrecondition once mm_users reached 0.
  absl::Status Get();
  // mmget_not_zero().
  bool GetNotZero();
  // mmput().
  absl::Status Put();
  // mmgrab(): FailedPrecondition (and a use-after-free report) after
  // __mmdrop().
  absl::Status Grab();
  // mmdrop().
  absl::Status Drop();
  // Called from __mmdrop(), in registration order, before the pgd is freed.
  void AddDropHook(std::function<void(Mm&)> hook) {
    drop_hooks_.push_back(std::move(hook));
  }
  // Called from __mmput(), after exit_mmap(), before the users' mmdrop —
  // where Linux freed the PASID before the 2022 fix.
  void AddExitHook(std::function<void(Mm&)> hook) {
    exit_hooks_.push_back(std::move(hook));
  }

  // A second root that holds only the user half, kept equal to the pgd's
  // user entries after every change (kPTI's user PGD, mirrored as
  // pti_set_user_pgtbl() does). For an IOMMU that must not reach kernel
  // mappings. x86 only (arm64's TTBR0 tree is user-only already):
  // FailedPrecondition on arm64 or after exit; idempotent.
  absl::StatusOr<PhysAddr> EnableUserOnlyRoot();
  // The user-only root, or pgd() when none was enabled.
  PhysAddr user_only_root() const {
    return user_root_.value() != 0 ? user_root_ : pgd();
  }

  // mmap(MAP_ANONYMOUS): `len` rounded up to 4 KiB. With `fixed`, exactly
  // there (FailedPrecondition if taken). InvalidArgument for len 0 or an
  // unaligned fixed address.
  absl::StatusOr<VirtAddr> Mmap(uint64_t len, uint8_t prot, bool populate,
                                std::optional<VirtAddr> fixed = std::nullopt);
  absl::Status Munmap(VirtAddr va, uint64_t len);
  absl::Status Mprotect(VirtAddr va, uint64_t len, uint8_t prot);

  // The page-fault handler: maps the page of `va` if a VMA allows `access`.
  FaultResult HandleFault(VirtAddr va, arch::AccessType access);

  // CPU user-mode access through the mm's tables, faulting pages in.
  absl::Status Write(VirtAddr va, std::span<const uint8_t> data);
  absl::Status Read(VirtAddr va, std::span<uint8_t> out);
  std::optional<arch::Translation> Lookup(VirtAddr va) const {
    return builder_.Lookup(va);
  }
  const std::map<VirtAddr, Vma>& vmas() const { return vmas_; }
  uint64_t resident_pages() const { return resident_pages_; }

  // mmu_notifier_register(): AlreadyExists if `n` is registered anywhere;
  // FailedPrecondition once the mm has exited.
  absl::Status RegisterNotifier(MmuNotifier* n);
  // mmu_notifier_unregister(): NotFound if `n` is not registered here.
  absl::Status UnregisterNotifier(MmuNotifier* n);
  // flush_tlb_mm_range() -> arch_invalidate_secondary_tlbs().
  void FlushTlbRange(VirtAddr start, VirtAddr end);

  Kernel& kernel() const { return kernel_; }

 private:
  void SplitVmaAt(VirtAddr va);
  absl::Status CheckRange(VirtAddr va, uint64_t len) const;
  FaultResult MapPage(VirtAddr page, uint8_t prot);
  // Unmaps [start, end): clears leaves, flushes, frees the data frames and
  // the page-table pages no VMA needs any more.
  void ZapRange(VirtAddr start, VirtAddr end, bool free_tables);
  void ExitMmap();
  void FreeMm();  // __mmdrop()
  absl::Status Access(VirtAddr va, std::span<uint8_t> buf, bool write);
  // Copies the user-half top-level entries into the user-only root.
  void SyncUserRoot();

  Kernel& kernel_;
  SpaceId space_;
  arch::PageTableBuilder builder_;
  int users_ = 1;
  int count_ = 1;
  bool exited_ = false;
  std::map<VirtAddr, Vma> vmas_;
  VaAllocator va_;
  MmuNotifierList notifiers_;
  std::vector<std::function<void(Mm&)>> drop_hooks_;
  std::vector<std::function<void(Mm&)>> exit_hooks_;
  PhysAddr user_root_;
  uint64_t resident_pages_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_MM_H_
