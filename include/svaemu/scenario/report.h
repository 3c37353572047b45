// ScenarioReport: what one run of a lifetime scenario shows — one row of
// `svaemu demo`.
#ifndef SVAEMU_SCENARIO_REPORT_H_
#define SVAEMU_SCENARIO_REPORT_H_

#include <cstdint>
#include <map>
#include <string>

#include "svaemu/check/violation.h"

namespace svaemu::sim {
class Simulation;
}

namespace svaemu::scenario {

struct ScenarioReport {
  std::string scenario;   // "kva_uaf"
  std::string platform;   // "x86_64+vtd"
  std::string policy;     // "kva_invalidation=none"
  std::string variant;    // "sre=1", or empty
  bool buggy = false;     // the policy is the historical bug
  std::map<std::string, int> violations;  // kind name -> count, sorted
  int total_violations = 0;
  uint64_t dma_count = 0;
  uint64_t invalidation_cycles = 0;
  uint64_t trace_hash = 0;
  uint64_t seed = 0;
  // Scenario-specific observations ("pasid_a_frees" -> 1), sorted.
  std::map<std::string, uint64_t> facts;
  // The trace dump, kept only for runs that reported a violation.
  std::string trace;

  int count(check::ViolationKind k) const {
    auto it = violations.find(check::ViolationKindName(k));
    return it == violations.end() ? 0 : it->second;
  }
  // A buggy run must be caught, a fixed run must be clean.
  bool as_expected() const { return buggy ? total_violations > 0 : total_violations == 0; }
};

// Fills violations (by kind, and "kernel_object_use_after_free:<type>" per
// freed object type), total, trace hash and — for a run with violations —
// the trace itself, from the simulation.
void Collect(sim::Simulation& sim, ScenarioReport* r);
// One row: "kva_uaf  x86_64+vtd  kva_invalidation=none  sre=1  ...".
std::string FormatRow(const ScenarioReport& r);
std::string FormatHeader();

}  // namespace svaemu::scenario

#endif  // SVAEMU_SCENARIO_REPORT_H_
