// Seed bug 2, both ways, on both platforms.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {
namespace {

using check::ViolationKind;
using kernel::PasidLifetime;

class PasidLifetimeScenario : public ::testing::TestWithParam<platform::Arch> {};

TEST_P(PasidLifetimeScenario, FreeAtExitHandsThePasidToBAndADeviceReachesB) {
  ScenarioReport r = RunPasidLifetime({.arch = GetParam(), .policy = PasidLifetime::kFreeAtExit});
  EXPECT_EQ(r.facts["pasid_a"], r.facts["pasid_b"]) << "B got A's freed PASID";
  // The device used A's PASID twice after it was freed: once while free,
  // once when it was B's — and that second DMA landed in B's memory.
  EXPECT_EQ(r.count(ViolationKind::kPasidUseAfterFree), 2) << FormatRow(r);
  EXPECT_EQ(r.count(ViolationKind::kCrossMmDma), 1) << FormatRow(r);
  // A's late unbind finds its attach handle freed when B took the slot over.
  EXPECT_EQ(r.count(ViolationKind::kKernelObjectUseAfterFree), 1) << FormatRow(r);
  EXPECT_EQ(r.total_violations, 4) << FormatRow(r);
  EXPECT_EQ(r.facts["pasid_a_frees"], 1u);
  EXPECT_EQ(r.facts["pasid_a_freed_after_unbind"], 0u) << "freed at exit, before unbind";
  EXPECT_TRUE(r.as_expected());
}

TEST_P(PasidLifetimeScenario, FreeAtMmdropFaultsOnlyAndFreesOnceAfterUnbind) {
  ScenarioReport r = RunPasidLifetime({.arch = GetParam(), .policy = PasidLifetime::kFreeAtMmdrop});
  EXPECT_NE(r.facts["pasid_a"], r.facts["pasid_b"]);
  EXPECT_EQ(r.total_violations, 0) << FormatRow(r);
  EXPECT_EQ(r.facts["pasid_a_frees"], 1u);
  EXPECT_EQ(r.facts["pasid_a_freed_after_unbind"], 1u);
  EXPECT_EQ(r.facts["pasids_in_use_at_end"], 0u);
  EXPECT_EQ(r.dma_count, 4u);
  EXPECT_TRUE(r.as_expected());
}

INSTANTIATE_TEST_SUITE_P(Platforms, PasidLifetimeScenario,
                         ::testing::Values(platform::Arch::kX86_64, platform::Arch::kArm64),
                         [](const auto& info) {
                           return info.param == platform::Arch::kArm64 ? "Arm64Smmuv3" : "X86Vtd";
                         });

}  // namespace
}  // namespace svaemu::scenario
