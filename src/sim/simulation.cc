#include "svaemu/sim/simulation.h"

#include "svaemu/check/violation.h"

namespace svaemu::sim {

Simulation::Simulation(SimConfig config)
    : config_(config),
      rng_(config.seed),
      // A separate stream for scheduling, so that turning permutation on
      // does not change the draws that models make from rng().
      schedule_rng_(config.seed ^ 0x9e3779b97f4a7c15ull),
      events_(clock_) {
  trace_.set_enabled(config_.trace);
  violations_.set_fatal(config_.fatal_violations);
  if (config_.permute_ready_work) {
    events_.set_permutation(&schedule_rng_, config_.schedule_jitter);
  }
  violations_.set_listener([this](const check::Violation& v) {
    Trace("check", check::ViolationKindName(v.kind), v.text);
  });
}

}  // namespace svaemu::sim
