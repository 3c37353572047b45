#include "svaemu/kernel/va_allocator.h"

#include "gtest/gtest.h"

namespace svaemu::kernel {
namespace {

TEST(VaAllocator, FirstFitLowestAddressAndAlignment) {
  VaAllocator va(VirtAddr(0x1000), 0x100000);
  EXPECT_EQ(*va.Allocate(0x1000, 0x1000), VirtAddr(0x1000));
  EXPECT_EQ(*va.Allocate(0x1000, 0x10000), VirtAddr(0x10000));
  EXPECT_EQ(*va.Allocate(0x1000, 0x1000), VirtAddr(0x2000));
}

TEST(VaAllocator, ReleasedRangeIsHandedOutAgainAndMerges) {
  VaAllocator va(VirtAddr(0), 0x10000);
  VirtAddr a = *va.Allocate(0x4000, 0x1000);
  VirtAddr b = *va.Allocate(0x4000, 0x1000);
  ASSERT_TRUE(va.Release(a, 0x4000).ok());
  ASSERT_TRUE(va.Release(b, 0x4000).ok());
  // Merged with the tail: the whole range is free again.
  EXPECT_TRUE(va.IsFree(VirtAddr(0), 0x10000));
  EXPECT_EQ(*va.Allocate(0x10000, 0x1000), VirtAddr(0));
}

TEST(VaAllocator, MisuseGetsPreciseCodes) {
  VaAllocator va(VirtAddr(0), 0x10000);
  EXPECT_EQ(va.Allocate(0, 0x1000).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(va.Allocate(0x1000, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(va.Allocate(0x20000, 0x1000).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(va.Reserve(VirtAddr(0x2000), 0x1000).ok());
  EXPECT_EQ(va.Reserve(VirtAddr(0x2000), 0x1000).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(va.Release(VirtAddr(0x8000), 0x1000).code(),
            absl::StatusCode::kFailedPrecondition);  // already free
  EXPECT_EQ(va.Release(VirtAddr(0x20000), 0x1000).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace svaemu::kernel
