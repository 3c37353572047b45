#include "svaemu/kernel/va_allocator.h"

#include "absl/strings/str_cat.h"

namespace svaemu::kernel {

VaAllocator::VaAllocator(VirtAddr start, uint64_t size)
    : start_(start), size_(size) {
  free_.emplace(start, size);
}

absl::StatusOr<VirtAddr> VaAllocator::Allocate(uint64_t size, uint64_t align) {
  if (size == 0 || align == 0 || (align & (align - 1)) != 0) {
    return absl::InvalidArgumentError(
        "VA allocation needs a non-zero size and a power-of-two alignment");
  }
  for (const auto& [base, len] : free_) {
    const VirtAddr va = base.AlignUp(align);
    const uint64_t skip = va - base;
    if (va < base || skip >= len || len - skip < size) continue;
    absl::Status s = Reserve(va, size);
    if (!s.ok()) return s;
    return va;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free virtual range of ", size, " bytes"));
}

bool VaAllocator::IsFree(VirtAddr va, uint64_t size) const {
  auto it = free_.upper_bound(va);
  if (it == free_.begin()) return false;
  --it;
  return va >= it->first && (va - it->first) + size <= it->second;
}

absl::Status VaAllocator::Reserve(VirtAddr va, uint64_t size) {
  if (size == 0) return absl::InvalidArgumentError("empty VA range");
  auto it = free_.upper_bound(va);
  if (it == free_.begin()) {
    return absl::FailedPreconditionError("VA range is not free");
  }
  --it;
  const VirtAddr base = it->first;
  const uint64_t len = it->second;
  if (va < base || (va - base) + size > len) {
    return absl::FailedPreconditionError("VA range is not free");
  }
  free_.erase(it);
  if (va > base) free_.emplace(base, va - base);
  const VirtAddr tail = va + size;
  const uint64_t tail_len = len - (va - base) - size;
  if (tail_len > 0) free_.emplace(tail, tail_len);
  return absl::OkStatus();
}

absl::Status VaAllocator::Release(VirtAddr va, uint64_t size) {
  if (size == 0 || va < start_ || (va - start_) + size > size_) {
    return absl::InvalidArgumentError("VA range outside the allocator");
  }
  auto next = free_.lower_bound(va);
  if (next != free_.end() && next->first < va + size) {
    return absl::FailedPreconditionError("VA range is already free");
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > va) {
      return absl::FailedPreconditionError("VA range is already free");
    }
  }
  VirtAddr base = va;
  uint64_t len = size;
  if (next != free_.end() && next->first == va + size) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == va) {
      base = prev->first;
      len += prev->second;
      free_.erase(prev);
    }
  }
  free_.emplace(base, len);
  return absl::OkStatus();
}

}  // namespace svaemu::kernel
