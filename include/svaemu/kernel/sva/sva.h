// Sva: Linux's drivers/iommu/iommu-sva.c — bind/unbind, the mm's PASID and
// SVA domains, and the kernel-VA invalidation of seed bug 1.
//
// Bind(dev, mm) returns an attach handle, refcounted per (device, mm): a
// second Bind of the same pair returns the same handle. The mm's PASID comes
// from the global allocator the first time the mm is bound (below the
// device's width: ResourceExhausted when none is free; OutOfRange when the
// mm's PASID is beyond another device's width). Binding a second mm at a
// PASID that is in use on the device is AlreadyExists (EBUSY). SVA domains
// are per (mm, IOMMU unit); each holds mm_count (mmgrab) and drops it when
// freed. Unbind's contract: on return DMA on that PASID has stopped and its
// page requests are flushed.
//
// Policies (../shared/DESIGN.md):
//  - pasid_lifetime: kFreeAtMmdrop frees the PASID (and the iommu_mm) in
//    __mmdrop(), after every domain dropped its mm_count; kFreeAtExit frees
//    it in __mmput() — the 2022 bug — and, as the old drivers did, a later
//    bind of another mm at that PASID on the same device simply takes the
//    slot over from the exited mm (cross-mm DMA follows).
//  - kva_invalidation: kPerFlush hooks flush_tlb_kernel_range(); kDeferredBatch
//    switches kernel page-table frees to the deferred batch and invalidates
//    the whole kernel range once per batch; kUserOnlyRoot makes drivers
//    point the hardware at Mm::user_only_root(); kNone does nothing.
// InvalidateKvaRange() is an inline wrapper: one predictable branch on the
// "present" flag when no mm is bound (the review point of the posted fix),
// an out-of-line walk over the listed mms otherwise, each invalidated through
// its mmu notifiers (arch_invalidate_secondary_tlbs).
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_SVA_SVA_H_
#define SVAEMU_KERNEL_SVA_SVA_H_

#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/kernel/iommu/iommu_core.h"
#include "svaemu/kernel/kobject.h"

namespace svaemu::kernel {

// iommu_mm_data.
class IommuMm : public KObject {
 public:
  IommuMm(sim::Simulation& sim, Mm* mm, Pasid pasid)
      : KObject(sim, "iommu_mm", "iommu_alloc_mm_data"), mm_(mm), pasid_(pasid) {}
  Mm* mm() const { return mm_; }
  Pasid pasid() const { return pasid_; }
  bool pasid_freed() const { return pasid_freed_; }
  void set_pasid_freed() { pasid_freed_ = true; }
  std::vector<Domain*>& sva_domains() { return sva_domains_; }
  bool listed = false;

 private:
  Mm* mm_;
  Pasid pasid_;
  bool pasid_freed_ = false;
  std::vector<Domain*> sva_domains_;
};

class Sva {
 public:
  explicit Sva(IommuCore& core);
  Sva(const Sva&) = delete;
  Sva& operator=(const Sva&) = delete;

  // iommu_sva_bind_device().
  absl::StatusOr<AttachHandle*> Bind(Device& dev, Mm& mm);
  // iommu_sva_unbind_device(). FailedPrecondition for a freed handle (and a
  // use-after-free report).
  absl::Status Unbind(AttachHandle* handle);

  // The iommu_mm of `mm`, nullptr if it was never bound (or was freed).
  IommuMm* mm_data(const Mm& mm) const;
  // The mm that holds `pasid` now, nullptr if the PASID is free.
  Mm* PasidOwner(Pasid pasid) const;

  // iommu_sva_invalidate_kva_range().
  void InvalidateKvaRange(VirtAddr start, VirtAddr end) {
    if (__builtin_expect(present_, 0)) InvalidateKvaRangeSlow(start, end);
  }
  bool present() const { return present_; }
  // Listed mms, in bind order (iommu_sva_mms).
  const std::vector<IommuMm*>& sva_mms() const { return sva_mms_; }
  uint64_t kva_invalidations() const { return kva_invalidations_; }
  IommuCore& core() const { return core_; }

 private:
  void InvalidateKvaRangeSlow(VirtAddr start, VirtAddr end);
  absl::StatusOr<IommuMm*> AllocMmData(Mm& mm, Device& dev);
  void FreePasid(IommuMm& data, const char* where);
  void Unlist(IommuMm& data);

  IommuCore& core_;
  bool present_ = false;
  std::vector<IommuMm*> sva_mms_;
  // Keyed by SpaceId (deterministic order), freed ones kept (quarantine).
  std::map<SpaceId, std::unique_ptr<IommuMm>> mm_data_;
  std::vector<std::unique_ptr<IommuMm>> freed_mm_data_;
  uint64_t kva_invalidations_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_SVA_SVA_H_
