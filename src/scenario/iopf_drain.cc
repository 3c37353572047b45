// Seed bug 3 (../shared/DESIGN.md): an SMMUv3 detach or replace frees the
// old master_domain while stalled transactions are still in the event
// queue, in the threaded IRQ handler or in the IOPF workqueue — versus the
// fix that drains all three first.
#include "absl/strings/str_cat.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/platform/platform.h"
#include "svaemu/scenario/dma_checker.h"
#include "svaemu/scenario/scenarios.h"
#include "setup.h"

namespace svaemu::scenario {

namespace {
// Stalls are issued this far apart, and the domain change comes after this
// many of them: with the cost model's IRQ and workqueue latencies, some
// stalls are then in each stage (event queue, IRQ thread, IOPF work).
constexpr sim::Cycles kStagger = 2'500;
}  // namespace

ScenarioReport RunIopfDrain(const IopfDrainParams& params) {
  ScenarioReport r;
  r.scenario = "iopf_drain";
  r.platform = "arm64+smmuv3";
  r.policy = absl::StrCat("detach_drain=", kernel::PolicyName(params.policy));
  r.variant = params.replace ? "replace" : "detach";
  r.buggy = params.policy == kernel::DetachDrain::kNone;

  platform::PlatformConfig c;
  c.arch = platform::Arch::kArm64;
  c.device.stall = true;
  c.policies.detach_drain = params.policy;
  std::unique_ptr<platform::Platform> made = MakePlatform(c, params.run, &r);
  if (made == nullptr) return r;
  platform::Platform& p = *made;
  sim::Simulation& sim = p.sim();
  hw::pci::Endpoint& ep = *p.device(0).ep;
  kernel::Device& dev = *p.device(0).dev;
  kernel::Mm& mm = **p.NewProcess();
  const int n = params.stalls;
  // Unpopulated: every first touch stalls in the SMMU until the IOPF core
  // has faulted the page in and CMD_RESUME retries it.
  const VirtAddr va = *mm.Mmap(n * kPageSize4K, kernel::kProtRead | kernel::kProtWrite,
                               /*populate=*/false);
  kernel::AttachHandle* h = *p.sva().Bind(dev, mm);
  const Pasid pasid = h->pasid();
  DmaChecker checker(sim, p.mem(), p.sva());
  checker.Watch(ep);
  checker.Expect(ep, pasid, &mm);

  const std::vector<uint8_t> data = {1, 2, 3, 4};
  for (int k = 0; k < n; ++k) {
    sim.events().Schedule(k * kStagger, "scenario.dma", [&ep, pasid, va, k, &data] {
      ep.Write(pasid, va + k * kPageSize4K, data);
    });
  }
  // The domain change, while stalls are on their way.
  sim.events().Schedule((n / 2) * kStagger + kStagger / 2, "scenario.domain_change",
                        [&] {
                          if (params.replace) {
                            // Another SVA domain of the same mm takes the PASID
                            // (a domain replace, as iommufd does).
                            absl::StatusOr<kernel::Domain*> other =
                                p.core().AllocSvaDomain(dev, mm);
                            if (other.ok()) {
                              (void)p.core().ReplaceDevicePasid(**other, dev, pasid);
                            }
                          } else {
                            (void)p.sva().Unbind(h);
                          }
                        });
  sim.RunUntilIdle(10'000'000);

  r.dma_count = ep.records().size();
  uint64_t done = 0, aborted = 0, pending = 0;
  for (const hw::pci::DmaRecord& rec : ep.records()) {
    done += rec.outcome == hw::pci::DmaOutcome::kDone;
    aborted += rec.outcome == hw::pci::DmaOutcome::kAborted;
    pending += rec.outcome == hw::pci::DmaOutcome::kPending;
  }
  r.facts["dma_done"] = done;
  r.facts["dma_aborted"] = aborted;
  r.facts["dma_pending"] = pending;  // must be 0: every stall answered
  r.facts["smmu_stalled_at_end"] = p.smmu(0)->stalled();
  p.core().CheckAllFaultsAnswered();
  r.invalidation_cycles = p.invalidation_cycles();
  Collect(sim, &r);
  return r;
}

}  // namespace svaemu::scenario
