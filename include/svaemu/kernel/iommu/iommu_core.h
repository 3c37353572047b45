// IommuCore: Linux's drivers/iommu/iommu.c for the parts SVA needs.
//
// One registration per hardware unit (iommu_device_register), each with its
// IOPF queue; devices probed onto a unit; domains allocated through the
// unit's driver; attach, replace and detach of a domain at a device's PASID
// through attach handles. The core owns every object and refcount: domains
// and handles are tracked kernel objects that, once freed, stay in
// quarantine (so a modelled use-after-free is a report, never a read of
// freed C++ memory). Drivers only program hardware (IommuOps).
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_IOMMU_IOMMU_CORE_H_
#define SVAEMU_KERNEL_IOMMU_IOMMU_CORE_H_

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/kernel/iommu/device.h"
#include "svaemu/kernel/iommu/ops.h"
#include "svaemu/kernel/iommu/pasid_allocator.h"
#include "svaemu/kernel/iopf/iopf_queue.h"
#include "svaemu/kernel/policy.h"

namespace svaemu::kernel {

class Kernel;

class IommuCore {
 public:
  IommuCore(Kernel& kernel, Policies policies);
  ~IommuCore();
  IommuCore(const IommuCore&) = delete;
  IommuCore& operator=(const IommuCore&) = delete;

  // iommu_device_register(): AlreadyExists if the unit number is taken.
  absl::Status RegisterUnit(IommuOps* ops);
  // iommu_probe_device(): NotFound for an unknown unit; AlreadyExists for a
  // requester ID already probed on that unit; the driver's error otherwise.
  // IOPF-capable devices join the unit's IOPF queue. With `group`, the
  // device joins that group of the unit (created on first use; devices
  // behind a non-ACS bridge, say); without, it gets a group of its own.
  // FailedPrecondition to join a group that has a PASID attached.
  absl::StatusOr<Device*> ProbeDevice(std::string name, uint16_t unit,
                                      StreamId rid, DeviceCaps caps,
                                      std::optional<uint32_t> group = std::nullopt);

  // Allocates an SVA domain of `mm` for `dev`'s unit; takes mm_count.
  absl::StatusOr<Domain*> AllocSvaDomain(Device& dev, Mm& mm);
  // iommu_domain_free(): driver free, then mmdrop for SVA domains. The
  // domain must have no attachments (FailedPrecondition).
  absl::Status FreeDomain(Domain* domain);

  // iommu_attach_device_pasid(): the domain is set at `pasid` on every
  // device of dev's group (all or none: a driver error undoes the devices
  // already set). AlreadyExists (EBUSY) if the group has something attached
  // there; OutOfRange if the PASID is beyond a device's width.
  absl::StatusOr<AttachHandle*> AttachDevicePasid(Domain& domain, Device& dev,
                                                  Pasid pasid);
  // iommu_replace_device_pasid(): the handle at (dev, pasid) now points at
  // `domain`; the old handle is freed after the driver switched.
  absl::StatusOr<AttachHandle*> ReplaceDevicePasid(Domain& domain, Device& dev,
                                                   Pasid pasid);
  // iommu_detach_device_pasid(): the driver blocks DMA and drains page
  // requests, the IOPF queue of the device is flushed, then the handle is
  // freed.
  absl::Status DetachDevicePasid(Device& dev, Pasid pasid);

  Kernel& kernel() const { return kernel_; }
  sim::Simulation& sim() const;
  const Policies& policies() const { return policies_; }
  PasidAllocator& pasids() { return pasids_; }
  IopfQueue* iopf_queue(uint16_t unit) const;
  IommuOps* unit(uint16_t unit) const;
  const std::vector<std::unique_ptr<Device>>& devices() const { return devices_; }
  // Every domain ever allocated, freed ones included (quarantine).
  const std::vector<std::unique_ptr<Domain>>& domains() const { return domains_; }
  // Every group of every unit answered? Reports each that is not.
  int CheckAllFaultsAnswered();

 private:
  AttachHandle* NewHandle(Device* dev, Pasid pasid, Domain* domain);
  void RemoveAttachment(Domain& domain, Device& dev, Pasid pasid);
  Group* GroupFor(uint16_t unit, std::optional<uint32_t> id);

  Kernel& kernel_;
  Policies policies_;
  PasidAllocator pasids_;
  std::map<uint16_t, IommuOps*> units_;
  std::map<uint16_t, std::unique_ptr<IopfQueue>> iopf_queues_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::map<std::pair<uint16_t, uint32_t>, std::unique_ptr<Group>> groups_;
  uint32_t next_group_ = 1u << 31;  // ids of private groups
  std::vector<std::unique_ptr<Domain>> domains_;
  std::vector<std::unique_ptr<AttachHandle>> handles_;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_IOMMU_CORE_H_
