#include "svaemu/kernel/iommu/iommu_core.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

IommuCore::IommuCore(Kernel& kernel, Policies policies)
    : kernel_(kernel), policies_(policies) {}

IommuCore::~IommuCore() = default;

sim::Simulation& IommuCore::sim() const { return kernel_.sim(); }

absl::Status IommuCore::RegisterUnit(IommuOps* ops) {
  if (units_.contains(ops->unit())) {
    return absl::AlreadyExistsError(
        absl::StrCat("IOMMU unit ", ops->unit(), " is already registered"));
  }
  units_[ops->unit()] = ops;
  iopf_queues_[ops->unit()] = std::make_unique<IopfQueue>(
      sim(), absl::StrCat(ops->name(), ops->unit(), "-iopf"));
  return absl::OkStatus();
}

IopfQueue* IommuCore::iopf_queue(uint16_t unit) const {
  auto it = iopf_queues_.find(unit);
  return it == iopf_queues_.end() ? nullptr : it->second.get();
}

IommuOps* IommuCore::unit(uint16_t unit) const {
  auto it = units_.find(unit);
  return it == units_.end() ? nullptr : it->second;
}

absl::StatusOr<Device*> IommuCore::ProbeDevice(std::string name, uint16_t u,
                                               StreamId rid, DeviceCaps caps) {
  IommuOps* ops = unit(u);
  if (ops == nullptr) {
    return absl::NotFoundError(absl::StrCat("no IOMMU unit ", u));
  }
  for (const auto& d : devices_) {
    if (d->id() == FaultSource{u, rid}) {
      return absl::AlreadyExistsError(
          absl::StrCat("requester ", rid.value(), " is already on unit ", u));
    }
  }
  auto dev = std::make_unique<Device>(std::move(name), FaultSource{u, rid},
                                      caps, ops);
  absl::Status s = ops->ProbeDevice(*dev);
  if (!s.ok()) return s;
  if (dev->iopf_capable()) {
    s = iopf_queue(u)->AddDevice(*dev);
    if (!s.ok()) return s;
  }
  devices_.push_back(std::move(dev));
  return devices_.back().get();
}

absl::StatusOr<Domain*> IommuCore::AllocSvaDomain(Device& dev, Mm& mm) {
  absl::Status s = mm.Grab();  // the domain's reference (mmgrab)
  if (!s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Domain>> d =
      dev.ops()->AllocSvaDomain(dev, mm);
  if (!d.ok()) {
    (void)mm.Drop();
    return d.status();
  }
  domains_.push_back(*std::move(d));
  sim().Trace("iommu", "domain_alloc_sva", domains_.back()->name());
  return domains_.back().get();
}

absl::Status IommuCore::FreeDomain(Domain* domain) {
  if (!domain->Use(Agent::Cpu(), "iommu_domain_free")) {
    return absl::FailedPreconditionError("domain already freed");
  }
  if (!domain->attachments().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(domain->name(), " is still attached"));
  }
  domain->ops()->FreeDomain(*domain);
  domain->Kfree("iommu_domain_free");
  if (domain->mm() != nullptr) return domain->mm()->Drop();
  return absl::OkStatus();
}

AttachHandle* IommuCore::NewHandle(Device* dev, Pasid pasid, Domain* domain) {
  handles_.push_back(std::make_unique<AttachHandle>(sim(), dev, pasid, domain));
  return handles_.back().get();
}

absl::StatusOr<AttachHandle*> IommuCore::AttachDevicePasid(Domain& domain,
                                                           Device& dev,
                                                           Pasid pasid) {
  if (pasid.value() >= dev.max_pasids()) {
    return absl::OutOfRangeError(absl::StrCat(
        "PASID ", pasid.value(), " is beyond ", dev.name(), "'s width"));
  }
  if (dev.handle(pasid) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat(
        dev.name(), " already has a domain at PASID ", pasid.value()));
  }
  absl::Status s = dev.ops()->SetDevPasid(dev, pasid, domain, nullptr);
  if (!s.ok()) return s;
  AttachHandle* h = NewHandle(&dev, pasid, &domain);
  dev.pasid_array()[pasid.value()] = h;
  domain.mutable_attachments().push_back({&dev, pasid});
  sim().Trace("iommu", "attach_dev_pasid",
              absl::StrCat(dev.name(), " pasid=", pasid.value(), " ", domain.name()));
  return h;
}

absl::StatusOr<AttachHandle*> IommuCore::ReplaceDevicePasid(Domain& domain,
                                                            Device& dev,
                                                            Pasid pasid) {
  AttachHandle* old = dev.handle(pasid);
  if (old == nullptr) return AttachDevicePasid(domain, dev, pasid);
  Domain* old_domain = old->domain();
  absl::Status s = dev.ops()->SetDevPasid(dev, pasid, domain, old_domain);
  if (!s.ok()) return s;
  RemoveAttachment(*old_domain, dev, pasid);
  AttachHandle* h = NewHandle(&dev, pasid, &domain);
  dev.pasid_array()[pasid.value()] = h;
  domain.mutable_attachments().push_back({&dev, pasid});
  old->Kfree("iommu_replace_device_pasid");
  sim().Trace("iommu", "replace_dev_pasid",
              absl::StrCat(dev.name(), " pasid=", pasid.value(), " ", domain.name()));
  return h;
}

void IommuCore::RemoveAttachment(Domain& domain, Device& dev, Pasid pasid) {
  auto& a = domain.mutable_attachments();
  a.erase(std::remove_if(a.begin(), a.end(),
                         [&](const Attachment& x) {
                           return x.dev == &dev && x.pasid == pasid;
                         }),
          a.end());
}

absl::Status IommuCore::DetachDevicePasid(Device& dev, Pasid pasid) {
  AttachHandle* h = dev.handle(pasid);
  if (h == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        dev.name(), " has nothing attached at PASID ", pasid.value()));
  }
  Domain* domain = h->domain();
  dev.ops()->RemoveDevPasid(dev, pasid, *domain);
  // The driver drained the hardware; now the faults already reported.
  if (IopfQueue* q = dev.iopf_queue()) q->FlushDevice(dev);
  dev.pasid_array().erase(pasid.value());
  RemoveAttachment(*domain, dev, pasid);
  h->Kfree("iommu_detach_device_pasid");
  sim().Trace("iommu", "detach_dev_pasid",
              absl::StrCat(dev.name(), " pasid=", pasid.value()));
  return absl::OkStatus();
}

int IommuCore::CheckAllFaultsAnswered() {
  int n = 0;
  for (auto& [u, q] : iopf_queues_) n += q->CheckAllAnswered();
  return n;
}

}  // namespace svaemu::kernel
