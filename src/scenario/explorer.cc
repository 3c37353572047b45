#include "svaemu/scenario/explorer.h"

namespace svaemu::scenario {

ExploreResult Explore(const std::function<RunResult(uint64_t seed)>& run,
                      uint64_t max_seeds) {
  ExploreResult out;
  for (uint64_t seed = 1; seed <= max_seeds; ++seed) {
    RunResult r = run(seed);
    ++out.seeds_run;
    if (r.violations > 0) {
      out.found = true;
      out.first = std::move(r);
      return out;
    }
  }
  return out;
}

}  // namespace svaemu::scenario
