// Seed bug 2 (../shared/DESIGN.md): the PASID of an mm freed at exit while a
// device bound to it still issues DMA (2022), versus the fix that keeps it
// until __mmdrop(), after the last SVA domain dropped the mm.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "svaemu/platform/platform.h"
#include "svaemu/scenario/dma_checker.h"
#include "svaemu/scenario/scenarios.h"
#include "setup.h"

namespace svaemu::scenario {
namespace {

constexpr VirtAddr kBuffer{0x40000000};

// Trace events "sva pasid_free <pasid> <mm> <where>" of `mm`'s PASID, and
// whether each came after the event "sva unbind <dev> <mm> pasid=...".
void CountFrees(const sim::TraceRecorder& trace, const kernel::Mm& mm,
                Pasid pasid, uint64_t* frees, uint64_t* after_unbind) {
  const std::string freed = absl::StrCat(pasid.value(), " ", mm.name(), " ");
  const std::string unbind = absl::StrCat(" ", mm.name(), " pasid=", pasid.value());
  bool unbound = false;
  *frees = 0;
  *after_unbind = 0;
  for (const sim::TraceEvent& e : trace.events()) {
    if (e.component != "sva") continue;
    if (e.name == "unbind" && absl::EndsWith(e.args, unbind)) unbound = true;
    if (e.name == "pasid_free" && absl::StartsWith(e.args, freed)) {
      ++*frees;
      if (unbound) ++*after_unbind;
    }
  }
}

}  // namespace

ScenarioReport RunPasidLifetime(const PasidLifetimeParams& params) {
  ScenarioReport r;
  r.scenario = "pasid_lifetime";
  r.platform = params.arch == platform::Arch::kArm64 ? "arm64+smmuv3" : "x86_64+vtd";
  r.policy = absl::StrCat("pasid_lifetime=", kernel::PolicyName(params.policy));
  r.buggy = params.policy == kernel::PasidLifetime::kFreeAtExit;

  platform::PlatformConfig c;
  c.arch = params.arch;
  c.policies.pasid_lifetime = params.policy;
  std::unique_ptr<platform::Platform> made = MakePlatform(c, params.run, &r);
  if (made == nullptr) return r;
  platform::Platform& p = *made;
  sim::Simulation& sim = p.sim();
  hw::pci::Endpoint& ep = *p.device(0).ep;
  kernel::Device& dev = *p.device(0).dev;
  DmaChecker checker(sim, p.mem(), p.sva());
  checker.Watch(ep);
  const uint8_t rw = kernel::kProtRead | kernel::kProtWrite;
  const std::vector<uint8_t> data = {'d', 'm', 'a'};

  // Process A binds the device and the device works for it.
  kernel::Mm& a = **p.NewProcess();
  (void)a.Mmap(kPageSize4K, rw, /*populate=*/true, kBuffer);
  kernel::AttachHandle* ha = *p.sva().Bind(dev, a);
  const Pasid pa = ha->pasid();
  checker.Expect(ep, pa, &a);
  ep.Write(pa, kBuffer, data);
  sim.RunUntilIdle(1'000'000);

  // A exits without unbinding: its device driver still holds the bind (the
  // file is closed later), and the device keeps issuing DMA.
  (void)a.Put();
  sim.RunUntilIdle(1'000'000);
  ep.Write(pa, kBuffer, data);
  sim.RunUntilIdle(1'000'000);

  // Process B, with memory at the same address, binds the same device.
  kernel::Mm& b = **p.NewProcess();
  (void)b.Mmap(kPageSize4K, rw, /*populate=*/true, kBuffer);
  kernel::AttachHandle* hb = *p.sva().Bind(dev, b);
  const Pasid pb = hb->pasid();
  // A's device is still at work on A's PASID.
  ep.Write(pa, kBuffer, data);
  sim.RunUntilIdle(1'000'000);

  // A's driver finally releases the device: unbind.
  (void)p.sva().Unbind(ha);
  checker.Forget(ep, pa);
  sim.RunUntilIdle(1'000'000);

  // B's own work goes on as normal, then B tears down cleanly.
  checker.Expect(ep, pb, &b);
  ep.Write(pb, kBuffer, data);
  sim.RunUntilIdle(1'000'000);
  if (!hb->freed()) (void)p.sva().Unbind(hb);
  (void)b.Put();
  sim.RunUntilIdle(1'000'000);

  r.dma_count = ep.records().size();
  r.invalidation_cycles = p.invalidation_cycles();
  r.facts["pasid_a"] = pa.value();
  r.facts["pasid_b"] = pb.value();
  CountFrees(sim.trace(), a, pa, &r.facts["pasid_a_frees"],
             &r.facts["pasid_a_freed_after_unbind"]);
  r.facts["pasids_in_use_at_end"] = p.core().pasids().in_use();
  Collect(sim, &r);
  return r;
}

}  // namespace svaemu::scenario
