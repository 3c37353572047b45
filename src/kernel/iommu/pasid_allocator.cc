#include "svaemu/kernel/iommu/pasid_allocator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace svaemu::kernel {

absl::StatusOr<Pasid> PasidAllocator::Allocate(uint32_t limit) {
  const uint32_t end = std::min(max_, limit);
  uint32_t candidate = min_;
  // used_ is ordered: walk it until the first gap.
  for (auto it = used_.lower_bound(min_); it != used_.end() && *it == candidate;
       ++it) {
    ++candidate;
  }
  if (candidate >= end) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no free PASID below ", end));
  }
  used_.insert(candidate);
  return Pasid(candidate);
}

absl::Status PasidAllocator::Free(Pasid pasid) {
  if (used_.erase(pasid.value()) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("PASID ", pasid.value(), " is not allocated"));
  }
  return absl::OkStatus();
}

}  // namespace svaemu::kernel
