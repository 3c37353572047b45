// VtdSvaOps: the VT-d driver's SVA operations for the IOMMU core
// (Linux drivers/iommu/intel/svm.c with the set_dev_pasid/remove_dev_pasid
// paths of iommu.c). It turns IommuOps calls into VtdDriver programming:
//  - ProbeDevice: a scalable-mode context entry with a PASID table
//    (PRI/ATS as the device has them);
//  - an SVA domain has a domain ID and is the mm's mmu notifier:
//    InvalidateSecondaryTlbs flushes each attachment's PASID range with
//    IH=0 (intel_arch_invalidate_secondary_tlbs passes ih = 0; a
//    whole-address-space range flushes the whole PASID), Release tears each
//    PASID entry down by the exit_teardown policy — VT-d has no "valid but
//    no walks" state, so kQuiesce and the driver default both clear the
//    entry with fault reporting suppressed (FPD), as intel_mm_release() does;
//    kDeactivate clears it with faults reported;
//  - SetDevPasid installs a first-stage entry pointing at the mm's pgd, or
//    at Mm::user_only_root() under kva_invalidation = user_only_root. A
//    replace tears the old entry down first (the driver has no atomic
//    replace; DMA faults in between, never reaches a third space);
//  - RemoveDevPasid tears the entry down and drains the page requests
//    (intel_pasid_tear_down_entry + intel_drain_pasid_prq).
// `supervisor_requests` sets SRE in the PASID entries it installs
// (kernel-mode SVA, used by the kva_uaf scenario).
//
// Non-SVA domains (vtd_domains.cc, docs/domains.md): requests without a
// PASID use the RID_PASID entry (9.4 context entry RID_PASID, 0 here:
// Linux IOMMU_NO_PASID). A paging domain (intel_iommu_domain_alloc_paging
// with a first-stage table) has its own DID and an x86-64 4-level table;
// at the RID it is a first-stage entry with FSPTPTR = its root
// (domain_setup_first_level). The identity domain is a pass-through entry
// (PGTT = 100b, DID = FLPT_DEFAULT_DID = 1, intel_pasid_setup_pass_through)
// and exists only with ECAP.PT. The blocked domain tears the entry down
// (device_block_translation -> intel_pasid_tear_down_entry). Moving
// between paging and identity replaces the present entry in place
// (intel_pasid_replace_*), then flushes the old DID. iotlb_sync is a
// page-selective PASID-based IOTLB invalidation per attachment, IH = 0 when
// page-table pages were freed (cache_tag_flush_range).
#ifndef SVAEMU_KERNEL_DRIVERS_VTD_SVA_H_
#define SVAEMU_KERNEL_DRIVERS_VTD_SVA_H_

#include <memory>

#include "svaemu/kernel/drivers/vtd/vtd_driver.h"
#include "svaemu/kernel/iommu/device.h"
#include "svaemu/kernel/iommu/ops.h"
#include "svaemu/kernel/iommu/paging_domain.h"
#include "svaemu/kernel/mmu_notifier.h"
#include "svaemu/kernel/policy.h"

namespace svaemu::kernel {

class VtdSvaOps;

class VtdSvaDomain : public Domain, public MmuNotifier {
 public:
  VtdSvaDomain(sim::Simulation& sim, VtdSvaOps* ops, Mm& mm, DomainId did);
  DomainId did() const { return did_; }
  void InvalidateSecondaryTlbs(Mm& mm, VirtAddr start, VirtAddr end) override;
  void Release(Mm& mm) override;

 private:
  VtdSvaOps* vtd_;
  DomainId did_;
};

// A paging domain: its DID (cache tag) and its first-stage table.
class VtdPagingDomain : public PagingDomain {
 public:
  VtdPagingDomain(sim::Simulation& sim, VtdSvaOps* ops, arch::PageTableBuilder pt,
                  DomainId did);
  DomainId did() const { return did_; }

 private:
  DomainId did_;
};

struct VtdSvaOptions {
  bool supervisor_requests = false;  // SRE in installed entries
};

class VtdSvaOps : public IommuOps {
 public:
  VtdSvaOps(sim::Simulation& sim, vtd::VtdDriver& driver, uint16_t unit,
            Policies policies, VtdSvaOptions options = {});
  uint16_t unit() const override { return unit_; }
  const char* name() const override { return "vtd"; }
  absl::Status ProbeDevice(Device& dev) override;
  absl::StatusOr<std::unique_ptr<Domain>> AllocSvaDomain(Device& dev,
                                                         Mm& mm) override;
  absl::Status SetDevPasid(Device& dev, Pasid pasid, Domain& domain,
                           Domain* old) override;
  void RemoveDevPasid(Device& dev, Pasid pasid, Domain& domain) override;
  void FreeDomain(Domain& domain) override;
  void PageResponse(const FaultSource& src, const IopfFault& last,
                    PageResponseCode code) override;

  // Non-SVA domains (vtd_domains.cc).
  absl::StatusOr<std::unique_ptr<Domain>> AllocPagingDomain(
      Device& dev, const PagingDomainArgs& args) override;
  Domain* IdentityDomain() override;
  Domain* BlockedDomain() override { return &blocked_; }
  absl::Status AttachDev(Device& dev, Domain& domain, Domain* old) override;
  absl::Status IotlbSync(PagingDomain& domain, const IotlbGather& gather) override;
  // FLPT_DEFAULT_DID: the DID of pass-through entries; domains get DIDs
  // from 2 up.
  static constexpr DomainId kPassThroughDid{1};

  vtd::VtdDriver& driver() { return driver_; }
  void set_options(VtdSvaOptions o) { options_ = o; }
  // Cycles spent in invalidations issued for SVA domains (modelled time).
  uint64_t invalidation_cycles() const { return invalidation_cycles_; }
  uint64_t invalidations() const { return invalidations_; }

 private:
  friend class VtdSvaDomain;
  void Flush(VtdSvaDomain& d, VirtAddr start, VirtAddr end);
  void Teardown(VtdSvaDomain& d);

  sim::Simulation& sim_;
  vtd::VtdDriver& driver_;
  uint16_t unit_;
  Policies policies_;
  VtdSvaOptions options_;
  absl::StatusOr<DomainId> AllocDid();

  uint32_t next_did_ = 2;
  Domain identity_;
  Domain blocked_;
  uint64_t invalidation_cycles_ = 0;
  uint64_t invalidations_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_DRIVERS_VTD_SVA_H_
