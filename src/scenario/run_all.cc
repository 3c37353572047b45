#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {

std::vector<ScenarioReport> RunAll(uint64_t seed) {
  using kernel::DetachDrain;
  using kernel::KvaInvalidation;
  using kernel::PasidLifetime;
  const RunOptions run{.seed = seed};
  std::vector<ScenarioReport> rows;
  for (KvaInvalidation p : {KvaInvalidation::kNone, KvaInvalidation::kPerFlush,
                            KvaInvalidation::kDeferredBatch, KvaInvalidation::kUserOnlyRoot}) {
    for (bool sre : {true, false}) {
      rows.push_back(RunKvaUaf({.policy = p, .sre = sre, .run = run}));
    }
  }
  rows.push_back(RunKvaUaf(
      {.arch = platform::Arch::kArm64, .policy = KvaInvalidation::kNone, .run = run}));
  for (platform::Arch arch : {platform::Arch::kX86_64, platform::Arch::kArm64}) {
    for (PasidLifetime p : {PasidLifetime::kFreeAtExit, PasidLifetime::kFreeAtMmdrop}) {
      rows.push_back(RunPasidLifetime({.arch = arch, .policy = p, .run = run}));
    }
  }
  for (bool replace : {true, false}) {
    for (DetachDrain p : {DetachDrain::kNone, DetachDrain::kDrain}) {
      rows.push_back(RunIopfDrain({.policy = p, .replace = replace, .run = run}));
    }
  }
  return rows;
}

}  // namespace svaemu::scenario
