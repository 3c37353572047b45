// The simulation context: clock, event queue, seeded Rng, cost model, stats,
// trace and the violation log, created together from one SimConfig.
//
// Every model takes a Simulation& and charges time, records trace events and
// reports violations through it. Violations are recorded into the trace as
// component "check", so a trace hash covers them too.
//
// Example:
//   sim::Simulation s({.seed = 7});
//   s.events().Schedule(10, "tick", [&] { ... });
//   s.RunUntilIdle(1000);
//
// Thread-safety: thread-compatible; the parts that say so are thread-safe.
#ifndef SVAEMU_SIM_SIMULATION_H_
#define SVAEMU_SIM_SIMULATION_H_

#include <cstdint>

#include "svaemu/check/violation_log.h"
#include "svaemu/sim/clock.h"
#include "svaemu/sim/cost_model.h"
#include "svaemu/sim/event_queue.h"
#include "svaemu/sim/rng.h"
#include "svaemu/sim/stats.h"
#include "svaemu/sim/trace.h"

namespace svaemu::sim {

struct SimConfig {
  uint64_t seed = 1;
  CostModel cost;
  bool trace = true;
  bool fatal_violations = false;
  // Permute ready deferred work with the seeded Rng (schedule exploration),
  // and delay each scheduled event by up to `schedule_jitter` cycles.
  bool permute_ready_work = false;
  Cycles schedule_jitter = 0;
};

class Simulation {
 public:
  explicit Simulation(SimConfig config = {});
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  const SimConfig& config() const { return config_; }
  Clock& clock() { return clock_; }
  Cycles now() const { return clock_.now(); }
  EventQueue& events() { return events_; }
  Rng& rng() { return rng_; }
  const CostModel& cost() const { return config_.cost; }
  Stats& stats() { return stats_; }
  TraceRecorder& trace() { return trace_; }
  check::ViolationLog& violations() { return violations_; }

  // Charges modelled time to the current activity.
  void Charge(Cycles c) { clock_.Advance(c); }
  // Records a trace event at now().
  void Trace(std::string_view component, std::string_view name,
             std::string_view args = {}) {
    if (trace_.enabled()) trace_.Record(clock_.now(), component, name, args);
  }
  size_t RunUntilIdle(size_t max_steps) { return events_.RunUntilIdle(max_steps); }

 private:
  SimConfig config_;
  Clock clock_;
  Rng rng_;
  Rng schedule_rng_;
  EventQueue events_;
  Stats stats_;
  TraceRecorder trace_;
  check::ViolationLog violations_;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_SIMULATION_H_
