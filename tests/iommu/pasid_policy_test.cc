#include "gtest/gtest.h"
#include "svaemu/kernel/iommu/pasid_allocator.h"
#include "svaemu/kernel/policy.h"

namespace svaemu::kernel {
namespace {

TEST(PasidAllocator, LowestFreeFirstAndFreedPasidIsReusedFirst) {
  PasidAllocator a;
  EXPECT_EQ(*a.Allocate(), Pasid(1));
  EXPECT_EQ(*a.Allocate(), Pasid(2));
  EXPECT_EQ(*a.Allocate(), Pasid(3));
  ASSERT_TRUE(a.Free(Pasid(2)).ok());
  EXPECT_EQ(*a.Allocate(), Pasid(2));  // what turns free-at-exit into cross-mm DMA
  EXPECT_EQ(*a.Allocate(), Pasid(4));
}

TEST(PasidAllocator, ExhaustionBelowTheDeviceLimitIsResourceExhausted) {
  PasidAllocator a;
  EXPECT_EQ(*a.Allocate(/*limit=*/4), Pasid(1));
  EXPECT_EQ(*a.Allocate(4), Pasid(2));
  EXPECT_EQ(*a.Allocate(4), Pasid(3));
  EXPECT_EQ(a.Allocate(4).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*a.Allocate(), Pasid(4));  // a wider device still gets one
  PasidAllocator tiny(1, 2);
  EXPECT_TRUE(tiny.Allocate().ok());
  EXPECT_EQ(tiny.Allocate().status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(PasidAllocator, FreeingAFreePasidIsFailedPrecondition) {
  PasidAllocator a;
  EXPECT_EQ(a.Free(Pasid(1)).code(), absl::StatusCode::kFailedPrecondition);
  Pasid p = *a.Allocate();
  ASSERT_TRUE(a.Free(p).ok());
  EXPECT_EQ(a.Free(p).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Policies, NamesRoundTrip) {
  for (auto p : {KvaInvalidation::kNone, KvaInvalidation::kPerFlush,
                 KvaInvalidation::kDeferredBatch, KvaInvalidation::kUserOnlyRoot}) {
    EXPECT_EQ(ParseKvaInvalidation(PolicyName(p)), p);
  }
  for (auto p : {PasidLifetime::kFreeAtExit, PasidLifetime::kFreeAtMmdrop}) {
    EXPECT_EQ(ParsePasidLifetime(PolicyName(p)), p);
  }
  for (auto p : {ExitTeardown::kDeactivate, ExitTeardown::kQuiesce,
                 ExitTeardown::kDriverDefault}) {
    EXPECT_EQ(ParseExitTeardown(PolicyName(p)), p);
  }
  for (auto p : {DetachDrain::kNone, DetachDrain::kDrain}) {
    EXPECT_EQ(ParseDetachDrain(PolicyName(p)), p);
  }
  EXPECT_FALSE(ParseKvaInvalidation("sometimes").has_value());
  // Defaults reproduce current Linux.
  Policies d;
  EXPECT_EQ(d.kva_invalidation, KvaInvalidation::kDeferredBatch);
  EXPECT_EQ(d.pasid_lifetime, PasidLifetime::kFreeAtMmdrop);
  EXPECT_EQ(d.exit_teardown, ExitTeardown::kDriverDefault);
  EXPECT_EQ(d.detach_drain, DetachDrain::kDrain);
}

}  // namespace
}  // namespace svaemu::kernel
