// The three lifetime scenarios of ../shared/DESIGN.md, each runnable under
// its historical (buggy) policy and its fix, on a platform built for it.
// Each returns a ScenarioReport; docs/scenarios.md tells each as a story.
//
//   kva_uaf         seed bug 1: a stale IOMMU paging-structure cache entry
//                   walks a kernel page-table page that vmap promotion freed
//                   and an attacker got back.
//   pasid_lifetime  seed bug 2: a PASID freed at exit while a device still
//                   uses it is handed to another process.
//   iopf_drain      seed bug 3: an SMMUv3 detach/replace frees the
//                   master_domain while stalls are still on their way.
#ifndef SVAEMU_SCENARIO_SCENARIOS_H_
#define SVAEMU_SCENARIO_SCENARIOS_H_

#include <cstdint>
#include <vector>

#include "svaemu/kernel/policy.h"
#include "svaemu/platform/config.h"
#include "svaemu/scenario/report.h"

namespace svaemu::scenario {

struct RunOptions {
  uint64_t seed = 1;
  bool permute = false;  // permute ready work (schedule explorer)
  uint64_t jitter = 0;   // with permute: cycles of seeded delay per event
};

struct KvaUafParams {
  platform::Arch arch = platform::Arch::kX86_64;
  kernel::KvaInvalidation policy = kernel::KvaInvalidation::kNone;
  // true: kernel-mode SVA (SRE set, privileged DMA), 2 MiB promotion frees a
  // PTE page. false: user SVA, 1 GiB promotion frees a PD page.
  bool sre = true;
  RunOptions run;
};
ScenarioReport RunKvaUaf(const KvaUafParams& p);

struct PasidLifetimeParams {
  platform::Arch arch = platform::Arch::kX86_64;
  kernel::PasidLifetime policy = kernel::PasidLifetime::kFreeAtExit;
  RunOptions run;
};
ScenarioReport RunPasidLifetime(const PasidLifetimeParams& p);

struct IopfDrainParams {
  kernel::DetachDrain policy = kernel::DetachDrain::kNone;
  bool replace = true;  // replace the domain (true) or unbind (false)
  int stalls = 6;       // stalled transactions in flight
  RunOptions run;
};
ScenarioReport RunIopfDrain(const IopfDrainParams& p);

// Every scenario under its buggy and fixed policies, on its platforms: the
// rows of `svaemu demo`.
std::vector<ScenarioReport> RunAll(uint64_t seed = 1);

}  // namespace svaemu::scenario

#endif  // SVAEMU_SCENARIO_SCENARIOS_H_
