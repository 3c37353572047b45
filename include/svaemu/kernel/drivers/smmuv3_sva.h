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
//
// Non-SVA domains (smmuv3_domains.cc, docs/domains.md), as
// arm_smmu_attach_dev / arm_smmu_attach_dev_identity /
// arm_smmu_attach_dev_blocked / arm_smmu_attach_dev_ste do it: a paging
// domain has a private ASID and an arm64 4 KiB/48-bit stage-1 table; at the
// RID it is CD 0 (TTB0 = its table) under a CD-table STE with
// S1DSS = SSID0 (0b10). Identity is a bypass STE when no PASID is attached,
// else the CD-table STE with S1DSS = bypass; blocked is an abort STE, else
// the CD-table STE with S1DSS = terminate (Linux passes
// STRTAB_STE_1_S1DSS_TERMINATE); both then clear CD 0. A PASID attach on a
// master whose STE is abort/bypass upgrades it to the CD-table STE with
// the S1DSS of the RID domain (arm_smmu_set_pasid), and removing the last
// PASID downgrades it again (arm_smmu_remove_dev_pasid). iotlb_sync is
// TLBI_NH_VA over the range (non-leaf when tables were freed) for the
// domain's ASID, ATC invalidation for ATS masters, and CMD_SYNC.
#ifndef SVAEMU_KERNEL_DRIVERS_SMMUV3_SVA_H_
#define SVAEMU_KERNEL_DRIVERS_SMMUV3_SVA_H_

#include <memory>

#include "svaemu/kernel/drivers/smmuv3/driver.h"
#include "svaemu/kernel/iommu/device.h"
#include "svaemu/kernel/iommu/ops.h"
#include "svaemu/kernel/iommu/paging_domain.h"
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

// A paging domain: its ASID (cache tag) and its stage-1 table.
class SmmuV3PagingDomain : public PagingDomain {
 public:
  SmmuV3PagingDomain(sim::Simulation& sim, SmmuV3SvaOps* ops,
                     arch::PageTableBuilder pt, Asid asid);
  Asid asid() const { return asid_; }

 private:
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

  // Non-SVA domains (smmuv3_domains.cc).
  absl::StatusOr<std::unique_ptr<Domain>> AllocPagingDomain(
      Device& dev, const PagingDomainArgs& args) override;
  Domain* IdentityDomain() override { return &identity_; }
  Domain* BlockedDomain() override { return &blocked_; }
  absl::Status AttachDev(Device& dev, Domain& domain, Domain* old) override;
  absl::Status IotlbSync(PagingDomain& domain, const IotlbGather& gather) override;

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
  absl::StatusOr<Asid> AllocAsid();
  // The S1DSS a CD-table STE needs for the RID domain `d` (nullptr:
  // blocked).
  static uint64_t S1dssFor(const Domain* d);
  // arm_smmu_set_pasid() / arm_smmu_remove_dev_pasid(): the STE a PASID
  // attach needs, and the one the RID domain wants once none is left.
  absl::Status UpgradeSteForPasid(Device& dev);
  absl::Status DowngradeSteAfterPasid(Device& dev);

  uint32_t next_asid_ = 1;
  Domain identity_;
  Domain blocked_;
  uint64_t invalidation_cycles_ = 0;
  uint64_t invalidations_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_DRIVERS_SMMUV3_SVA_H_
