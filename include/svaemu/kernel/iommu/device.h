// Group, Device, Domain and AttachHandle: the IOMMU core's objects.
//
// Group is iommu_group: the devices the IOMMU cannot isolate from each
// other. A domain is attached to a whole group — at the RID or at a PASID,
// every device of the group gets it. The group holds its RID domain
// (group->domain), the default domain it returns to on detach
// (group->default_domain) and the attach handle of each PASID
// (group->pasid_array). Device is struct device with its dev_iommu:
// which unit translates it, its requester ID, capabilities and its group.
// Domain is iommu_domain; an SVA domain holds the mm it translates (and,
// through the core, one mm_count). AttachHandle is
// iommu_attach_handle / struct iommu_sva: one (device, PASID) attachment,
// refcounted by binds. Domains and handles are tracked kernel objects
// (KObject): freed ones stay in quarantine and any later use is reported.
#ifndef SVAEMU_KERNEL_IOMMU_DEVICE_H_
#define SVAEMU_KERNEL_IOMMU_DEVICE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "svaemu/kernel/iommu/iopf.h"
#include "svaemu/kernel/kobject.h"

namespace svaemu::kernel {

class IommuOps;
class IopfQueue;
class Device;
class Mm;
class Domain;
class AttachHandle;

enum class DomainType : uint8_t { kBlocked, kIdentity, kPaging, kSva };

struct DeviceCaps {
  uint8_t pasid_bits = 20;  // 0: no PASID
  bool pri = false;         // PCIe PRI (VT-d page requests, SMMUv3 PRIQ)
  bool stall = false;       // SMMUv3 stall model
  bool ats = false;
};

class Group {
 public:
  explicit Group(uint32_t id) : id_(id) {}
  uint32_t id() const { return id_; }
  const std::vector<Device*>& devices() const { return devices_; }
  void AddDevice(Device* d) { devices_.push_back(d); }
  // group->pasid_array: the handle attached at each PASID.
  std::map<uint32_t, AttachHandle*>& pasid_array() { return pasid_array_; }
  AttachHandle* handle(Pasid pasid) const {
    auto it = pasid_array_.find(pasid.value());
    return it == pasid_array_.end() ? nullptr : it->second;
  }
  // group->domain: what translates requests without a PASID (nullptr only
  // for a unit whose driver has no blocked domain, e.g. a test fake).
  Domain* domain() const { return domain_; }
  void set_domain(Domain* d) { domain_ = d; }
  // group->default_domain, chosen at the first probe.
  Domain* default_domain() const { return default_domain_; }
  void set_default_domain(Domain* d) { default_domain_ = d; }

 private:
  uint32_t id_;
  std::vector<Device*> devices_;
  std::map<uint32_t, AttachHandle*> pasid_array_;
  Domain* domain_ = nullptr;
  Domain* default_domain_ = nullptr;
};

class Device {
 public:
  Device(std::string name, FaultSource id, DeviceCaps caps, IommuOps* ops,
         Group* group)
      : name_(std::move(name)), id_(id), caps_(caps), ops_(ops), group_(group) {}
  const std::string& name() const { return name_; }
  const FaultSource& id() const { return id_; }
  const DeviceCaps& caps() const { return caps_; }
  IommuOps* ops() const { return ops_; }
  // Exclusive upper bound of PASIDs this device can use.
  uint32_t max_pasids() const {
    return caps_.pasid_bits == 0 ? 0 : (1u << caps_.pasid_bits);
  }
  bool iopf_capable() const { return caps_.pri || caps_.stall; }

  Group* group() const { return group_; }
  // The handle attached at `pasid` on the device's group.
  AttachHandle* handle(Pasid pasid) const { return group_->handle(pasid); }
  IopfQueue* iopf_queue() const { return iopf_queue_; }
  void set_iopf_queue(IopfQueue* q) { iopf_queue_ = q; }

 private:
  std::string name_;
  FaultSource id_;
  DeviceCaps caps_;
  IommuOps* ops_;
  Group* group_;
  IopfQueue* iopf_queue_ = nullptr;
};

// One (device, PASID) a domain is attached at; `rid` for the attachment
// that translates requests without a PASID (Linux IOMMU_NO_PASID; `pasid`
// is then 0, VT-d's RID_PASID and SMMUv3's SSID 0).
struct Attachment {
  Device* dev;
  Pasid pasid;
  bool rid = false;
};

class Domain : public KObject {
 public:
  Domain(sim::Simulation& sim, DomainType type, IommuOps* ops, Mm* mm,
         const char* site)
      : KObject(sim, "domain", site), type_(type), ops_(ops), mm_(mm) {}
  DomainType type() const { return type_; }
  IommuOps* ops() const { return ops_; }
  // The SVA domain's mm (nullptr for other types).
  Mm* mm() const { return mm_; }
  // Where the domain is attached, in attach order.
  const std::vector<Attachment>& attachments() const { return attachments_; }
  std::vector<Attachment>& mutable_attachments() { return attachments_; }
  // iommu_domain users: how many attachments hold the domain.
  int users() const { return static_cast<int>(attachments_.size()); }

 private:
  DomainType type_;
  IommuOps* ops_;
  Mm* mm_;
  std::vector<Attachment> attachments_;
};

class AttachHandle : public KObject {
 public:
  AttachHandle(sim::Simulation& sim, Device* dev, Pasid pasid, Domain* domain)
      : KObject(sim, "attach_handle", "iommu_sva_bind_device"),
        dev_(dev),
        pasid_(pasid),
        domain_(domain) {}
  Device* dev() const { return dev_; }
  Pasid pasid() const { return pasid_; }
  Domain* domain() const { return domain_; }
  int users() const { return users_; }
  void Ref() { ++users_; }
  int Unref() { return --users_; }

 private:
  Device* dev_;
  Pasid pasid_;
  Domain* domain_;
  int users_ = 1;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_DEVICE_H_
