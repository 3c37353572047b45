// Seed bug 1, both ways, on both platforms.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {
namespace {

using check::ViolationKind;
using kernel::KvaInvalidation;

TEST(KvaUafScenario, WithoutInvalidationKernelModeDmaTranslatesThroughCraftedPte) {
  ScenarioReport r = RunKvaUaf({.policy = KvaInvalidation::kNone, .sre = true});
  // The stale PDE-cache entry leads the walk into the reused PTE page
  // (one read), the crafted PTE translates, and setting its A bit writes
  // into the attacker's frame; the DMA then lands outside the mm and the
  // kernel's data, in the attacker's target frame.
  EXPECT_EQ(r.count(ViolationKind::kWalkThroughReusedFrame), 1) << FormatRow(r);
  EXPECT_EQ(r.count(ViolationKind::kAdWriteToNonTableFrame), 1) << FormatRow(r);
  EXPECT_EQ(r.count(ViolationKind::kDmaOutsideDomain), 1) << FormatRow(r);
  EXPECT_EQ(r.total_violations, 3) << FormatRow(r);
  EXPECT_TRUE(r.as_expected());
}

TEST(KvaUafScenario, WithoutInvalidationUserSvaWalksTheReusedPdPage) {
  ScenarioReport r = RunKvaUaf({.policy = KvaInvalidation::kNone, .sre = false});
  // A PDPE-cache entry filled by a walk that ended in a U/S fault leads
  // into the reused PD page, whose crafted PDE leads into the attacker's
  // table: two walk reads of frames that are data now. The walk ends in a
  // U/S fault again, but it used the crafted PDE to reach the next level,
  // so the IOMMU sets its A bit: a write into the attacker's frame.
  EXPECT_EQ(r.count(ViolationKind::kWalkThroughReusedFrame), 2) << FormatRow(r);
  EXPECT_EQ(r.count(ViolationKind::kAdWriteToNonTableFrame), 1) << FormatRow(r);
  EXPECT_EQ(r.count(ViolationKind::kDmaOutsideDomain), 0) << FormatRow(r);
  EXPECT_EQ(r.total_violations, 3) << FormatRow(r);
  EXPECT_TRUE(r.as_expected());
}

class KvaUafFixed : public ::testing::TestWithParam<std::tuple<KvaInvalidation, bool>> {};

TEST_P(KvaUafFixed, IsClean) {
  const auto [policy, sre] = GetParam();
  ScenarioReport r = RunKvaUaf({.policy = policy, .sre = sre});
  EXPECT_EQ(r.total_violations, 0) << FormatRow(r);
  EXPECT_TRUE(r.as_expected());
  if (policy != KvaInvalidation::kUserOnlyRoot) {
    EXPECT_GT(r.invalidation_cycles, 0u) << FormatRow(r);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Policies, KvaUafFixed,
    ::testing::Combine(::testing::Values(KvaInvalidation::kPerFlush,
                                         KvaInvalidation::kDeferredBatch,
                                         KvaInvalidation::kUserOnlyRoot),
                       ::testing::Bool()));

TEST(KvaUafScenario, Arm64WithEpd1IsCleanByConstructionEvenWithoutInvalidation) {
  for (bool sre : {true, false}) {
    ScenarioReport r = RunKvaUaf(
        {.arch = platform::Arch::kArm64, .policy = KvaInvalidation::kNone, .sre = sre});
    EXPECT_EQ(r.total_violations, 0) << FormatRow(r);
    EXPECT_EQ(r.invalidation_cycles, 0u) << FormatRow(r);
  }
}

TEST(KvaUafScenario, SameSeedSameTrace) {
  ScenarioReport a = RunKvaUaf({.policy = KvaInvalidation::kNone});
  ScenarioReport b = RunKvaUaf({.policy = KvaInvalidation::kNone});
  EXPECT_EQ(a.trace_hash, b.trace_hash);
}

}  // namespace
}  // namespace svaemu::scenario
