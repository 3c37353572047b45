// The schedule explorer: runs a scenario under seeds 1..N with ready work
// permuted (sim::SimConfig::permute_ready_work), and returns the first seed
// whose run reports a violation, with its trace. Re-running that seed
// reproduces the run exactly (same trace hash): the seed is the bug report.
//
// Example:
//   ExploreResult r = Explore([](uint64_t seed) { return RunIopfDrain(seed); },
//                             /*max_seeds=*/1000);
//   if (r.found) std::cout << r.first.trace;
#ifndef SVAEMU_SCENARIO_EXPLORER_H_
#define SVAEMU_SCENARIO_EXPLORER_H_

#include <cstdint>
#include <functional>
#include <string>

namespace svaemu::scenario {

// What one run of a scenario returns.
struct RunResult {
  uint64_t seed = 0;
  int violations = 0;
  uint64_t trace_hash = 0;
  std::string trace;  // the dump, for the failing run
};

struct ExploreResult {
  bool found = false;
  uint64_t seeds_run = 0;
  RunResult first;  // the first violating run, when found
};

// Runs `run(seed)` for seed = 1..max_seeds, stopping at the first run with a
// violation.
ExploreResult Explore(const std::function<RunResult(uint64_t seed)>& run,
                      uint64_t max_seeds);

}  // namespace svaemu::scenario

#endif  // SVAEMU_SCENARIO_EXPLORER_H_
