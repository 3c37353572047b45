// What every scenario does first: build its platform from a configuration
// and the run options (seed, permutation, jitter), or record why it could
// not in the report.
#ifndef SVAEMU_SRC_SCENARIO_SETUP_H_
#define SVAEMU_SRC_SCENARIO_SETUP_H_

#include <memory>

#include "svaemu/platform/platform.h"
#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {

inline std::unique_ptr<platform::Platform> MakePlatform(platform::PlatformConfig c,
                                                        const RunOptions& run,
                                                        ScenarioReport* r) {
  c.seed = run.seed;
  c.permute_ready_work = run.permute;
  c.schedule_jitter = run.jitter;
  r->seed = run.seed;
  absl::StatusOr<std::unique_ptr<platform::Platform>> p = platform::Platform::Create(c);
  if (!p.ok()) {
    r->violations["setup_failed"] = 1;
    r->total_violations = 1;
    return nullptr;
  }
  return *std::move(p);
}

}  // namespace svaemu::scenario

#endif  // SVAEMU_SRC_SCENARIO_SETUP_H_
