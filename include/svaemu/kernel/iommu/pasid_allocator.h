// The global PASID space (Linux: iommu_global_pasid_ida, iommu_alloc_global_pasid()).
//
// PASIDs are handed out lowest-free-first in [min, max), as an IDA does, so
// a PASID freed early is the next one reused — which is what turns the 2022
// free-at-exit bug into cross-mm DMA: the freed PASID of process A becomes
// process B's. A caller passes the device's limit (its PASID width): the
// allocation fails with ResourceExhausted if no PASID below that limit is
// free. Freeing a PASID that is not allocated is FailedPrecondition.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_IOMMU_PASID_ALLOCATOR_H_
#define SVAEMU_KERNEL_IOMMU_PASID_ALLOCATOR_H_

#include <cstdint>
#include <set>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/base/strong_types.h"

namespace svaemu::kernel {

class PasidAllocator {
 public:
  // PASID 0 is reserved (RID_PASID / no-PASID traffic); 20-bit space.
  explicit PasidAllocator(uint32_t min = 1, uint32_t max = 1u << 20)
      : min_(min), max_(max) {}

  // Lowest free PASID below min(max, limit).
  absl::StatusOr<Pasid> Allocate(uint32_t limit = UINT32_MAX);
  absl::Status Free(Pasid pasid);
  bool allocated(Pasid pasid) const { return used_.contains(pasid.value()); }
  size_t in_use() const { return used_.size(); }

 private:
  uint32_t min_;
  uint32_t max_;
  std::set<uint32_t> used_;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_PASID_ALLOCATOR_H_
