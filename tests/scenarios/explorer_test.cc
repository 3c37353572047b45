// The schedule explorer over the three scenarios: each buggy policy is found
// within 1,000 seeds and the found seed reproduces exactly; each fixed
// policy stays clean for 10,000 seeds of permuted, jittered schedules.
#include "svaemu/scenario/explorer.h"

#include <functional>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {
namespace {

using kernel::DetachDrain;
using kernel::KvaInvalidation;
using kernel::PasidLifetime;

constexpr uint64_t kJitter = 5'000;  // cycles: of the order of IRQ/work latencies

RunOptions Permuted(uint64_t seed) {
  return {.seed = seed, .permute = true, .jitter = kJitter};
}

RunResult ToRun(const ScenarioReport& r) {
  return {r.seed, r.total_violations, r.trace_hash, r.trace};
}

using Scenario = std::function<ScenarioReport(uint64_t seed)>;

Scenario KvaUaf(KvaInvalidation p, bool sre = true) {
  return [=](uint64_t seed) {
    return RunKvaUaf({.policy = p, .sre = sre, .run = Permuted(seed)});
  };
}
Scenario PasidLifetime(platform::Arch arch, kernel::PasidLifetime p) {
  return [=](uint64_t seed) {
    return RunPasidLifetime({.arch = arch, .policy = p, .run = Permuted(seed)});
  };
}
Scenario IopfDrain(DetachDrain p, bool replace) {
  return [=](uint64_t seed) {
    return RunIopfDrain({.policy = p, .replace = replace, .run = Permuted(seed)});
  };
}

ExploreResult ExploreScenario(const Scenario& s, uint64_t seeds) {
  return Explore([&](uint64_t seed) { return ToRun(s(seed)); }, seeds);
}

void ExpectFoundAndReproducible(const Scenario& s) {
  ExploreResult r = ExploreScenario(s, 1'000);
  ASSERT_TRUE(r.found);
  EXPECT_FALSE(r.first.trace.empty());
  // The seed is the bug report: running it again gives the same run.
  ScenarioReport again = s(r.first.seed);
  EXPECT_EQ(again.trace_hash, r.first.trace_hash);
  EXPECT_EQ(again.total_violations, r.first.violations);
  EXPECT_EQ(again.trace, r.first.trace);
}

TEST(Explorer, FindsEachBuggyPolicyAndItsSeedReproduces) {
  ExpectFoundAndReproducible(KvaUaf(KvaInvalidation::kNone));
  ExpectFoundAndReproducible(KvaUaf(KvaInvalidation::kNone, /*sre=*/false));
  ExpectFoundAndReproducible(PasidLifetime(platform::Arch::kX86_64, PasidLifetime::kFreeAtExit));
  ExpectFoundAndReproducible(PasidLifetime(platform::Arch::kArm64, PasidLifetime::kFreeAtExit));
  ExpectFoundAndReproducible(IopfDrain(DetachDrain::kNone, /*replace=*/true));
  ExpectFoundAndReproducible(IopfDrain(DetachDrain::kNone, /*replace=*/false));
}

TEST(Explorer, StopsAtTheFirstViolatingSeed) {
  int calls = 0;
  ExploreResult r = Explore(
      [&](uint64_t seed) {
        ++calls;
        return RunResult{seed, seed == 7 ? 1 : 0, seed, ""};
      },
      100);
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.first.seed, 7u);
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(r.seeds_run, 7u);
}

TEST(Explorer, DifferentSeedsReallyScheduleDifferently) {
  // Without this the "10,000 clean seeds" below would be one run repeated.
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    hashes.insert(IopfDrain(DetachDrain::kDrain, true)(seed).trace_hash);
  }
  EXPECT_GT(hashes.size(), 10u);
}

class ExplorerFixedPolicy : public ::testing::TestWithParam<std::pair<const char*, Scenario>> {};

TEST_P(ExplorerFixedPolicy, StaysCleanFor10000Seeds) {
  ExploreResult r = ExploreScenario(GetParam().second, 10'000);
  EXPECT_FALSE(r.found) << "seed " << r.first.seed << "\n" << r.first.trace;
  EXPECT_EQ(r.seeds_run, 10'000u);
}

INSTANTIATE_TEST_SUITE_P(
    Fixes, ExplorerFixedPolicy,
    ::testing::Values(
        std::make_pair("KvaPerFlush", KvaUaf(KvaInvalidation::kPerFlush)),
        std::make_pair("KvaDeferredBatch", KvaUaf(KvaInvalidation::kDeferredBatch)),
        std::make_pair("KvaUserOnlyRoot", KvaUaf(KvaInvalidation::kUserOnlyRoot, false)),
        std::make_pair("PasidMmdropX86",
                       PasidLifetime(platform::Arch::kX86_64, PasidLifetime::kFreeAtMmdrop)),
        std::make_pair("PasidMmdropArm64",
                       PasidLifetime(platform::Arch::kArm64, PasidLifetime::kFreeAtMmdrop)),
        std::make_pair("DrainReplace", IopfDrain(DetachDrain::kDrain, true)),
        std::make_pair("DrainUnbind", IopfDrain(DetachDrain::kDrain, false))),
    [](const auto& info) { return std::string(info.param.first); });

}  // namespace
}  // namespace svaemu::scenario
