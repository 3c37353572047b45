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
#ifndef SVAEMU_KERNEL_IOMMU_OPS_H_
#define SVAEMU_KERNEL_IOMMU_OPS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/kernel/iommu/iopf.h"

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
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_OPS_H_
