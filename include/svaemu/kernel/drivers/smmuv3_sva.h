// SmmuV3SvaOps: the arm-smmu-v3 driver's SVA operations for the IOMMU core
// (Linux drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c and the pasid
// attach paths of arm-smmu-v3.c):
//  - ProbeDevice: the master's STE with a CD table (stall/ATS/PRI as the
//    device has them);
//  - an SVA domain has an ASID and is the mm's mmu notifier:
//    InvalidateSecondaryTlbs issues TLBI_NH_VA (non-leaf: walk-cache entries
//    of the range go too) or TLBI_NH_ASID for the whole address space, plus
//    ATC invalidation for ATS masters; Release quiesces each CD (valid,
//    EPD0 = 1, no walks: arm_smmu_mm_release) — the default and kQuiesce —
//    or clears it under kDeactivate;
//  - SetDevPasid writes the SVA CD (TTB0 = pgd, EPD1 = 1: no kernel walks by
//    construction) and links the SSID to the domain through a
//    master_domain (AttachSsid / ReplaceSsid);
//  - RemoveDevPasid clears the CD and frees the master_domain
//    (DetachSsid), after the seed-3 drain when detach_drain = drain.
// The IOPF flush the drain needs is the core's IopfQueue::FlushDevice.
#ifndef SVAEMU_KERNEL_DRIVERS_SMMUV3_SVA_H_
#define SVAEMU_KERNEL_DRIVERS_SMMUV3_SVA_H_

#include <memory>

#include "svaemu/kernel/drivers/smmuv3/driver.h"
#include "svaemu/kernel/iommu/device.h"
#include "svaemu/kernel/iommu/ops.h"
#include "svaemu/kernel/mmu_notifier.h"
#include "svaemu/kernel/policy.h"

namespace svaemu::kernel {

class SmmuV3SvaOps;
class IommuCore;

class SmmuV3SvaDomain : public Domain, public MmuNotifier {
 public:
  SmmuV3SvaDomain(sim::Simulation& sim, SmmuV3SvaOps* ops, Mm& mm, Asid asid);
  Asid asid() const { return asid_; }
  void InvalidateSecondaryTlbs(Mm& mm, VirtAddr start, VirtAddr end) override;
  void Release(Mm& mm) override;

 private:
  SmmuV3SvaOps* smmu_;
  Asid asid_;
};

class SmmuV3SvaOps : public IommuOps {
 public:
  // Wires the driver's IOPF sink and flush to `core`'s queue of `unit`,
  // which must be registered (RegisterUnit(this)) right after construction.
  SmmuV3SvaOps(sim::Simulation& sim, drivers::smmuv3::SmmuV3Driver& driver,
               uint16_t unit, Policies policies);
  // Connects the driver to the unit's IOPF queue (after RegisterUnit).
  void ConnectIopf(IommuCore& core);

  uint16_t unit() const override { return unit_; }
  const char* name() const override { return "smmuv3"; }
  absl::Status ProbeDevice(Device& dev) override;
  absl::StatusOr<std::unique_ptr<Domain>> AllocSvaDomain(Device& dev,
                                                         Mm& mm) override;
  absl::Status SetDevPasid(Device& dev, Pasid pasid, Domain& domain,
                           Domain* old) override;
  void RemoveDevPasid(Device& dev, Pasid pasid, Domain& domain) override;
  void FreeDomain(Domain& domain) override;
  void PageResponse(const FaultSource& src, const IopfFault& last,
                    PageResponseCode code) override;

  drivers::smmuv3::SmmuV3Driver& driver() { return driver_; }
  uint64_t invalidation_cycles() const { return invalidation_cycles_; }
  uint64_t invalidations() const { return invalidations_; }

 private:
  friend class SmmuV3SvaDomain;
  void Flush(SmmuV3SvaDomain& d, VirtAddr start, VirtAddr end);
  void Release(SmmuV3SvaDomain& d);

  sim::Simulation& sim_;
  drivers::smmuv3::SmmuV3Driver& driver_;
  uint16_t unit_;
  Policies policies_;
  uint32_t next_asid_ = 1;
  uint64_t invalidation_cycles_ = 0;
  uint64_t invalidations_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_DRIVERS_SMMUV3_SVA_H_
