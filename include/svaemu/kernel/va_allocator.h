// A first-fit allocator of virtual address ranges (the vmalloc area, user
// mmap ranges). Lowest address first, so that a freed range is the next one
// handed out at its alignment: deterministic, and what makes a vmalloc area
// and a later huge vmap land on the same page-table page.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_VA_ALLOCATOR_H_
#define SVAEMU_KERNEL_VA_ALLOCATOR_H_

#include <cstdint>
#include <map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/base/strong_types.h"

namespace svaemu::kernel {

class VaAllocator {
 public:
  VaAllocator(VirtAddr start, uint64_t size);

  // Lowest free range of `size` bytes aligned to `align` (a power of two).
  absl::StatusOr<VirtAddr> Allocate(uint64_t size, uint64_t align);
  // Takes exactly [va, va + size); FailedPrecondition if any of it is taken.
  absl::Status Reserve(VirtAddr va, uint64_t size);
  // Returns [va, va + size) to the free pool (merging neighbours).
  absl::Status Release(VirtAddr va, uint64_t size);
  bool IsFree(VirtAddr va, uint64_t size) const;

  VirtAddr start() const { return start_; }
  VirtAddr end() const { return start_ + size_; }

 private:
  VirtAddr start_;
  uint64_t size_;
  std::map<VirtAddr, uint64_t> free_;  // start -> length
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_VA_ALLOCATOR_H_
