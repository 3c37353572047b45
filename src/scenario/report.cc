#include "svaemu/scenario/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::scenario {

void Collect(sim::Simulation& sim, ScenarioReport* r) {
  r->violations.clear();
  for (const check::Violation& v : sim.violations().violations()) {
    ++r->violations[check::ViolationKindName(v.kind)];
    if (v.kind == check::ViolationKind::kKernelObjectUseAfterFree) {
      // "master_domain#3" -> per-type count, for the scenarios' stories.
      const std::string type = v.object.substr(0, v.object.find('#'));
      ++r->facts[absl::StrCat("use_after_free:", type)];
    }
  }
  r->total_violations = sim.violations().total();
  r->trace_hash = sim.trace().hash();
  if (r->total_violations > 0) r->trace = sim.trace().Dump();
}

std::string FormatHeader() {
  return absl::StrFormat("%-15s %-13s %-34s %-8s %-7s %6s %10s  %s", "scenario",
                         "platform", "policy", "variant", "result", "DMAs",
                         "inv.cycles", "violations");
}

std::string FormatRow(const ScenarioReport& r) {
  std::string kinds = absl::StrJoin(
      r.violations, ", ",
      [](std::string* out, const std::pair<const std::string, int>& kv) {
        absl::StrAppend(out, kv.first, "=", kv.second);
      });
  const char* result = !r.as_expected() ? "WRONG" : (r.buggy ? "caught" : "clean");
  return absl::StrFormat("%-15s %-13s %-34s %-8s %-7s %6d %10d  %s", r.scenario,
                         r.platform, r.policy, r.variant, result, r.dma_count,
                         r.invalidation_cycles, kinds.empty() ? "-" : kinds);
}

}  // namespace svaemu::scenario
