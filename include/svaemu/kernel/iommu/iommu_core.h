// IommuCore: Linux's drivers/iommu/iommu.c for the parts SVA needs.
//
// One registration per hardware unit (iommu_device_register), each with its
// IOPF queue; devices probed onto a unit, each group given its default
// domain; domains allocated through the unit's driver (SVA, paging, and the
// unit's static identity and blocked domains); attach, replace and detach
// of a domain at a device's RID (the whole group) or at a PASID through
// attach handles; iommu_map/iommu_unmap on paging domains
// (docs/domains.md). The core owns every object and refcount: domains
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

// The default domain a group gets at probe and returns to on detach
// (Linux: iommu.passthrough / CONFIG_IOMMU_DEFAULT_PASSTHROUGH choose
// identity; svaemu's default is blocked — see docs/domains.md).
enum class DefaultDomain : uint8_t { kBlocked, kIdentity };

// Test-only: the order of Unmap's two last steps. kSyncThenFree is the
// iommu_iotlb_gather rule; kFreeThenSync is the bug it prevents.
enum class UnmapOrder : uint8_t { kSyncThenFree, kFreeThenSync };

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
  // iommu_domain_free(): driver free, then mmdrop for SVA domains and the
  // page-table pages for paging domains. The domain must have no
  // attachments (FailedPrecondition); the static identity and blocked
  // domains cannot be freed (InvalidArgument).
  absl::Status FreeDomain(Domain* domain);

  // --- Non-SVA domains and RID attach (iommu_domains.cc) ---
  // Must be called before the first ProbeDevice.
  void set_default_domain(DefaultDomain d) { default_domain_ = d; }
  DefaultDomain default_domain_kind() const { return default_domain_; }

  // iommu_paging_domain_alloc(): a paging domain of `dev`'s unit, with its
  // own tag and an empty IOMMU-owned page table. The driver's error
  // (Unimplemented, ResourceExhausted) otherwise.
  absl::StatusOr<PagingDomain*> AllocPagingDomain(Device& dev);
  // ops->identity_domain: FailedPrecondition if the unit has none (VT-d
  // without ECAP.PT).
  absl::StatusOr<Domain*> IdentityDomain(Device& dev);
  // ops->blocked_domain: FailedPrecondition if the driver has none.
  absl::StatusOr<Domain*> BlockedDomain(Device& dev);

  // iommu_map(): maps [iova, iova + size) to [paddr, paddr + size) with the
  // largest page sizes alignment allows (iommu_pgsize). prot: kIommuRead,
  // kIommuWrite, kIommuNoExec (write implies read: neither format can
  // express write-only). Errors: InvalidArgument — not a paging domain,
  // iova/paddr/size not 4 KiB aligned, size 0, prot without read or write;
  // OutOfRange — beyond the aperture (or wrapping); AlreadyExists — part of
  // the range is mapped (nothing changes); FailedPrecondition — freed
  // domain; ResourceExhausted — out of frames (nothing stays mapped).
  absl::Status Map(Domain& domain, VirtAddr iova, PhysAddr paddr,
                   uint64_t size, int prot);
  // iommu_unmap(): clears every mapping in [iova, iova + size) (a huge
  // page partly inside is split), detaches the page-table pages that the
  // range emptied, flushes the IOTLB of every attachment (iotlb_sync) and
  // only then frees those pages. Returns the bytes that were mapped in the
  // range (0 if none). Errors as Map (InvalidArgument, OutOfRange,
  // FailedPrecondition).
  absl::StatusOr<uint64_t> Unmap(Domain& domain, VirtAddr iova, uint64_t size);
  void set_unmap_order_for_testing(UnmapOrder o) { unmap_order_ = o; }

  // iommu_attach_group() for dev's group: every device of the group
  // translates requests without a PASID through `domain` (paging,
  // identity or blocked; PASID attachments stay). InvalidArgument — SVA
  // domain, or a domain of another unit; FailedPrecondition (EBUSY) — the
  // group is attached to another domain than its default or blocked one
  // (use ReplaceDevice), or the domain was freed. All or none: a driver
  // error puts back the devices already switched.
  absl::Status AttachDevice(Domain& domain, Device& dev);
  // iommu_group_replace_domain(): as AttachDevice, from whatever domain
  // the group has, without passing through blocked.
  absl::Status ReplaceDevice(Domain& domain, Device& dev);
  // iommu_detach_group(): back to the group's default domain.
  // FailedPrecondition if `domain` is not the group's current domain.
  absl::Status DetachDevice(Domain& domain, Device& dev);
  // iommu_get_domain_for_dev().
  Domain* GetDomainForDevice(const Device& dev) const {
    return dev.group()->domain();
  }

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
  // __iommu_group_set_domain(): every device of `g` to `domain`.
  absl::Status SetGroupDomain(Group& g, Domain& domain);
  absl::Status CheckRidDomain(Domain& domain, Device& dev, const char* op);
  absl::Status CheckMapRange(Domain& domain, VirtAddr iova, uint64_t size,
                             const char* op);
  // The default domain for a new group on `ops`'s unit (nullptr: none).
  Domain* ChooseDefaultDomain(IommuOps* ops);
  void FreePageTables(PagingDomain& d);
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
  DefaultDomain default_domain_ = DefaultDomain::kBlocked;
  UnmapOrder unmap_order_ = UnmapOrder::kSyncThenFree;
  // Shadow spaces of IOMMU-owned page tables: far above the kernel's mm
  // spaces, so the two never meet.
  uint32_t next_space_ = 0x4000'0000;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_IOMMU_CORE_H_
