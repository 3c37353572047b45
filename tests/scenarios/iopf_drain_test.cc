// Seed bug 3, both ways, for a domain replace and an unbind.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {
namespace {

using check::ViolationKind;
using kernel::DetachDrain;

class IopfDrainScenario : public ::testing::TestWithParam<bool> {};

TEST_P(IopfDrainScenario, WithoutDrainTheFreedMasterDomainIsUsed) {
  ScenarioReport r = RunIopfDrain({.policy = DetachDrain::kNone, .replace = GetParam()});
  EXPECT_GE(r.count(ViolationKind::kKernelObjectUseAfterFree), 1) << FormatRow(r);
  // The driver's master_domain is among what was used after its free.
  EXPECT_GE(r.facts["use_after_free:master_domain"], 1u) << FormatRow(r);
  // Whatever was used after free, every stall is still answered exactly once.
  EXPECT_EQ(r.count(ViolationKind::kFaultAnsweredTwice), 0) << FormatRow(r);
  EXPECT_EQ(r.count(ViolationKind::kFaultNeverAnswered), 0) << FormatRow(r);
  EXPECT_EQ(r.facts["dma_pending"], 0u);
  EXPECT_EQ(r.facts["smmu_stalled_at_end"], 0u);
  EXPECT_EQ(r.facts["dma_done"] + r.facts["dma_aborted"], r.dma_count);
  EXPECT_TRUE(r.as_expected());
}

TEST_P(IopfDrainScenario, WithDrainCleanAndEveryStallAnsweredOnce) {
  ScenarioReport r = RunIopfDrain({.policy = DetachDrain::kDrain, .replace = GetParam()});
  EXPECT_EQ(r.total_violations, 0) << FormatRow(r);
  EXPECT_EQ(r.facts["dma_pending"], 0u);
  EXPECT_EQ(r.facts["smmu_stalled_at_end"], 0u);
  EXPECT_EQ(r.dma_count, 6u);
  EXPECT_EQ(r.facts["dma_done"] + r.facts["dma_aborted"], 6u);
  EXPECT_TRUE(r.as_expected());
}

INSTANTIATE_TEST_SUITE_P(DomainChange, IopfDrainScenario, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Replace" : "Unbind"; });

}  // namespace
}  // namespace svaemu::scenario
