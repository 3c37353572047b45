// The driver operations the IOMMU core calls: Linux's iommu_ops plus the
// SVA part of iommu_domain_ops, for one IOMMU unit.
//
// The core (kernel/iommu/iommu_core.h) owns every object, refcount and
// lock; a driver only programs its hardware. Contracts:
//  - ProbeDevice(): make the device translatable (context entry / STE with
//    a PASID table / CD table), enable PASID, PRI/stall and ATS use as the
//    device is capable. Called once per device.
//  - AllocSvaDomain(): domain_alloc_sva(). Returns the driver's domain
//    object (it subclasses Domain); the driver allocates its tag (DID /
//    ASID) and registers its mmu notifier on the mm, whose
//    InvalidateSecondaryTlbs flushes every attachment of the domain and
//    whose Release stops DMA by the ExitTeardown policy. The core has
//    already taken mm_count (mmgrab) for the domain.
//  - SetDevPasid(): set_dev_pasid(). Install `domain` at (dev, pasid),
//    replacing `old` (nullptr if none) without a window where DMA reaches
//    neither.
//  - RemoveDevPasid(): remove_dev_pasid(). On return, DMA on (dev, pasid)
//    is blocked, the IOTLB/device TLB hold nothing of it, and its page
//    requests are drained from the hardware.
//  - FreeDomain(): domain_free(): release the tag, unregister the notifier.
//    The core drops the domain's mm_count after it.
//  - PageResponse(): from IopfResponder; exactly once per reported group.
//
// Non-SVA domains (docs/domains.md):
//  - AllocPagingDomain(): domain_alloc_paging(). A PagingDomain with the
//    driver's tag and a fresh root, in the format the unit's first stage
//    walks, from args.alloc, tagged args.space. ResourceExhausted when out
//    of tags or frames; Unimplemented if the driver has no paging domains.
//  - IdentityDomain() / BlockedDomain(): ops->identity_domain /
//    ops->blocked_domain, one static instance per unit (owned by the
//    driver, never freed). nullptr: the unit cannot provide it (VT-d
//    without ECAP.PT has no identity domain).
//  - AttachDev(): attach_dev() of `domain` (paging, identity or blocked)
//    at the device's RID, replacing `old` (nullptr at the first attach of
//    the default domain) without a window where DMA reaches a third
//    translation. PASID attachments of the device stay as they are. On an
//    error the old domain is still in place.
//  - IotlbSync(): iotlb_sync() for a paging domain: invalidate the range
//    for every attachment of the domain (IOTLB, walk caches when
//    gather.freed_tables, device TLBs) and wait for completion. The core
//    frees the gathered page-table pages only after this returns.
#ifndef SVAEMU_KERNEL_IOMMU_OPS_H_
#define SVAEMU_KERNEL_IOMMU_OPS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/kernel/iommu/iopf.h"
#include "svaemu/kernel/iommu/paging_domain.h"

namespace svaemu::kernel {

class Device;
class Domain;
class Mm;

class IommuOps : public IopfResponder {
 public:
  ~IommuOps() override = default;
  virtual uint16_t unit() const = 0;
  virtual const char* name() const = 0;
  virtual absl::Status ProbeDevice(Device& dev) = 0;
  virtual absl::StatusOr<std::unique_ptr<Domain>> AllocSvaDomain(Device& dev,
                                                                 Mm& mm) = 0;
  virtual absl::Status SetDevPasid(Device& dev, Pasid pasid, Domain& domain,
                                   Domain* old) = 0;
  virtual void RemoveDevPasid(Device& dev, Pasid pasid, Domain& domain) = 0;
  virtual void FreeDomain(Domain& domain) = 0;

  // Non-SVA domains. The defaults describe a driver without them.
  virtual absl::StatusOr<std::unique_ptr<Domain>> AllocPagingDomain(
      Device& dev, const PagingDomainArgs& args) {
    (void)dev;
    (void)args;
    return absl::UnimplementedError("driver has no paging domains");
  }
  virtual Domain* IdentityDomain() { return nullptr; }
  virtual Domain* BlockedDomain() { return nullptr; }
  virtual absl::Status AttachDev(Device& dev, Domain& domain, Domain* old) {
    (void)dev;
    (void)domain;
    (void)old;
    return absl::UnimplementedError("driver has no RID attach");
  }
  virtual absl::Status IotlbSync(PagingDomain& domain,
                                 const IotlbGather& gather) {
    (void)domain;
    (void)gather;
    return absl::UnimplementedError("driver has no paging domains");
  }
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_OPS_H_
