// DmaChecker: turns a device's DMA into cross-mm and PASID-lifetime reports.
//
// A scenario says, for each device and PASID, which mm the device is doing
// work for (the binding its driver holds: Expect()). Every DMA the endpoint
// issues and every access that reaches memory is checked:
//  - issue: the PASID must still belong to that mm in the SVA layer; if it
//    is free, or held by another mm, that is kPasidUseAfterFree (the device
//    uses a PASID that was freed or reassigned under it);
//  - access: the frame reached must be data of that mm (or, for a
//    privileged request, kernel data). Data of another process's mm is
//    kCrossMmDma; any other frame (free, a page table, untracked) is
//    kDmaOutsideDomain.
// One report per offending DMA and kind.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_SCENARIO_DMA_CHECKER_H_
#define SVAEMU_SCENARIO_DMA_CHECKER_H_

#include <map>
#include <utility>

#include "svaemu/hw/pci/endpoint.h"
#include "svaemu/kernel/mm.h"
#include "svaemu/kernel/sva/sva.h"

namespace svaemu::scenario {

class DmaChecker {
 public:
  DmaChecker(sim::Simulation& sim, mem::PhysMem& mem, kernel::Sva& sva)
      : sim_(sim), mem_(mem), sva_(sva) {}

  // Installs the observers on `ep`. The checker must outlive it.
  void Watch(hw::pci::Endpoint& ep);
  // The device's DMA on `pasid` is on behalf of `mm`.
  void Expect(const hw::pci::Endpoint& ep, Pasid pasid, kernel::Mm* mm);
  void Forget(const hw::pci::Endpoint& ep, Pasid pasid);

  uint64_t checked_issues() const { return issues_; }
  uint64_t checked_accesses() const { return accesses_; }

 private:
  void OnIssue(uint16_t device, const hw::pci::DmaRecord& rec);
  void OnAccess(const hw::pci::DmaAccess& a);
  void Report(check::ViolationKind kind, uint16_t device, std::optional<PhysAddr> frame,
              std::string text);

  sim::Simulation& sim_;
  mem::PhysMem& mem_;
  kernel::Sva& sva_;
  std::map<std::pair<uint16_t, uint32_t>, kernel::Mm*> expected_;
  uint64_t issues_ = 0;
  uint64_t accesses_ = 0;
};

}  // namespace svaemu::scenario

#endif  // SVAEMU_SCENARIO_DMA_CHECKER_H_
