// Seed bug 1 (../shared/DESIGN.md): x86 SVA shares the kernel half of the
// CPU page tables with the IOMMU; a kernel page-table page freed by vmap
// promotion stays reachable through the IOMMU's paging-structure caches.
#include "absl/strings/str_cat.h"
#include "svaemu/arch/walk.h"
#include "svaemu/platform/platform.h"
#include "svaemu/scenario/dma_checker.h"
#include "svaemu/scenario/scenarios.h"
#include "setup.h"

namespace svaemu::scenario {
namespace {

// x86 PTE/PDE bits (SDM Vol. 3A, Tables 4-17/4-19): P, R/W, U/S; A clear.
constexpr uint64_t kCraftedLeaf = 0x7;
constexpr uint64_t kCraftedTable = 0x7;

}  // namespace

ScenarioReport RunKvaUaf(const KvaUafParams& params) {
  ScenarioReport r;
  r.scenario = "kva_uaf";
  r.platform = params.arch == platform::Arch::kArm64 ? "arm64+smmuv3" : "x86_64+vtd";
  r.policy = absl::StrCat("kva_invalidation=", kernel::PolicyName(params.policy));
  r.variant = params.sre ? "sre=1" : "sre=0";
  // On arm64, CD.EPD1 = 1 keeps kernel walks out whatever the policy.
  r.buggy = params.arch == platform::Arch::kX86_64 &&
            params.policy == kernel::KvaInvalidation::kNone;

  platform::PlatformConfig c;
  c.arch = params.arch;
  c.policies.kva_invalidation = params.policy;
  std::unique_ptr<platform::Platform> made = MakePlatform(c, params.run, &r);
  if (made == nullptr) return r;
  platform::Platform& p = *made;
  if (kernel::VtdSvaOps* ops = p.vtd_ops(0)) {
    ops->set_options({.supervisor_requests = params.sre});
  }
  sim::Simulation& sim = p.sim();
  hw::pci::Endpoint& ep = *p.device(0).ep;
  kernel::Mm& mm = **p.NewProcess();
  kernel::AttachHandle* h = *p.sva().Bind(*p.device(0).dev, mm);
  const Pasid pasid = h->pasid();
  DmaChecker checker(sim, p.mem(), p.sva());
  checker.Watch(ep);
  checker.Expect(ep, pasid, &mm);

  // 1. The kernel vmallocs a page; the device reads it, which walks the
  //    shared kernel tables and fills the IOMMU's paging-structure caches
  //    (for a user request the walk ends in a U/S fault, and the caches are
  //    still filled, as the specification permits).
  kernel::KernelSpace& ks = p.kernel().kspace();
  const VirtAddr kva = *ks.Vmalloc(kPageSize4K);
  const std::vector<uint8_t> secret = {'k', 'e', 'y'};
  (void)ks.Write(kva, secret);
  std::vector<uint8_t> buf(secret.size());
  ep.Read(pasid, kva, buf, /*privileged=*/params.sre);
  sim.RunUntilIdle(1'000'000);

  // 2. vfree(), then a huge vmap of the same range: vmap_try_huge_pmd/pud
  //    frees the page-table page(s) below it.
  //    2 MiB: vmap of kernel memory; 1 GiB: ioremap of a device BAR.
  const uint64_t huge = params.sre ? kPageSize2M : kPageSize1G;
  (void)ks.Vfree(kva);
  const PhysAddr backing =
      params.sre ? *p.alloc().AllocateContiguous(huge / kPageSize4K, huge,
                                                 mem::FrameUse::kData, "vmap_backing",
                                                 kernel::kKernelSpaceId)
                 : p.bar_base();
  (void)ks.VmapHuge(backing, huge, huge);
  sim.RunUntilIdle(1'000'000);  // the deferred free, if any, runs here

  // 3. An attacker sprays allocations: LIFO reuse hands it the freed
  //    page-table frames, and it writes crafted entries into all of them.
  mem::FrameAllocator& alloc = p.alloc();
  std::vector<PhysAddr> spray;  // first: these get the freed frames
  for (int i = 0; i < 2; ++i) {
    spray.push_back(*alloc.Allocate(mem::FrameUse::kData, "attacker_spray"));
  }
  const PhysAddr spray_table = *alloc.Allocate(mem::FrameUse::kData, "attacker_table");
  const PhysAddr target = *alloc.Allocate(mem::FrameUse::kData, "attacker_target");
  const mem::Access cpu = mem::Access::Cpu();
  // The address the device uses next, and the entry the stale cache leads to.
  const VirtAddr victim = params.sre ? kva + kPageSize4K : kva + kPageSize2M + kPageSize4K;
  for (PhysAddr f : spray) {
    if (params.sre) {
      // A PTE for `victim`, in the freed PTE page.
      p.mem().Write64(f + 8 * arch::TableIndex(victim, 1), target.value() | kCraftedLeaf, cpu);
    } else {
      // A PDE for `victim`, in the freed PD page, pointing at a table the
      // attacker controls.
      p.mem().Write64(f + 8 * arch::TableIndex(victim, 2),
                      spray_table.value() | kCraftedTable, cpu);
    }
  }
  p.mem().Write64(spray_table + 8 * arch::TableIndex(victim, 1),
                  target.value() | kCraftedLeaf, cpu);

  // 4. The device issues another DMA into the kernel range.
  const std::vector<uint8_t> payload = {0x41, 0x41};
  ep.Write(pasid, victim, payload, /*privileged=*/params.sre);
  sim.RunUntilIdle(1'000'000);

  r.dma_count = ep.records().size();
  r.invalidation_cycles = p.invalidation_cycles();
  Collect(sim, &r);
  return r;
}

}  // namespace svaemu::scenario
