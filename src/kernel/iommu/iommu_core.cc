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

Group* IommuCore::GroupFor(uint16_t unit, std::optional<uint32_t> id) {
  const uint32_t key = id.has_value() ? *id : next_group_++;
  std::unique_ptr<Group>& g = groups_[{unit, key}];
  if (g == nullptr) g = std::make_unique<Group>(key);
  return g.get();
}

absl::StatusOr<Device*> IommuCore::ProbeDevice(std::string name, uint16_t u,
                                               StreamId rid, DeviceCaps caps,
                                               std::optional<uint32_t> group) {
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
  Group* g = GroupFor(u, group);
  if (!g->pasid_array().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "group ", g->id(), " has PASIDs attached; a new device cannot join"));
  }
  auto dev = std::make_unique<Device>(std::move(name), FaultSource{u, rid},
                                      caps, ops, g);
  absl::Status s = ops->ProbeDevice(*dev);
  if (!s.ok()) return s;
  // iommu_setup_default_domain() for a new group; a device joining a group
  // gets the group's current domain (__iommu_device_set_domain()).
  const bool new_group = g->devices().empty();
  if (new_group) {
    g->set_default_domain(ChooseDefaultDomain(ops));
    g->set_domain(g->default_domain());
  }
  if (Domain* rid_domain = g->domain()) {
    s = ops->AttachDev(*dev, *rid_domain, nullptr);
    if (!s.ok()) return s;
    rid_domain->mutable_attachments().push_back({dev.get(), Pasid(0), true});
  }
  if (dev->iopf_capable()) {
    s = iopf_queue(u)->AddDevice(*dev);
    if (!s.ok()) return s;
  }
  g->AddDevice(dev.get());
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
  if (domain->type() == DomainType::kIdentity ||
      domain->type() == DomainType::kBlocked) {
    return absl::InvalidArgumentError(absl::StrCat(
        domain->name(), " is a unit's static domain and is never freed"));
  }
  if (!domain->attachments().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(domain->name(), " is still attached"));
  }
  domain->ops()->FreeDomain(*domain);
  // The driver flushed the tag's caches; the tables can go now.
  if (domain->type() == DomainType::kPaging) {
    FreePageTables(static_cast<PagingDomain&>(*domain));
  }
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
  if (domain.type() != DomainType::kSva) {
    // set_dev_pasid() of paging/identity/blocked domains is not modelled.
    return absl::InvalidArgumentError(absl::StrCat(
        "only SVA domains attach at a PASID; ", domain.name(), " is not one"));
  }
  Group& g = *dev.group();
  for (Device* d : g.devices()) {
    if (pasid.value() >= d->max_pasids()) {
      return absl::OutOfRangeError(absl::StrCat(
          "PASID ", pasid.value(), " is beyond ", d->name(), "'s width"));
    }
  }
  if (g.handle(pasid) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat(
        dev.name(), "'s group already has a domain at PASID ", pasid.value()));
  }
  // __iommu_set_group_pasid(): every device, or none.
  std::vector<Device*> done;
  for (Device* d : g.devices()) {
    absl::Status s = d->ops()->SetDevPasid(*d, pasid, domain, nullptr);
    if (!s.ok()) {
      for (Device* u : done) u->ops()->RemoveDevPasid(*u, pasid, domain);
      return s;
    }
    done.push_back(d);
  }
  AttachHandle* h = NewHandle(&dev, pasid, &domain);
  g.pasid_array()[pasid.value()] = h;
  for (Device* d : g.devices()) domain.mutable_attachments().push_back({d, pasid});
  sim().Trace("iommu", "attach_dev_pasid",
              absl::StrCat(dev.name(), " pasid=", pasid.value(), " ", domain.name()));
  return h;
}

absl::StatusOr<AttachHandle*> IommuCore::ReplaceDevicePasid(Domain& domain,
                                                            Device& dev,
                                                            Pasid pasid) {
  if (domain.type() != DomainType::kSva) {
    return absl::InvalidArgumentError(absl::StrCat(
        "only SVA domains attach at a PASID; ", domain.name(), " is not one"));
  }
  Group& g = *dev.group();
  AttachHandle* old = g.handle(pasid);
  if (old == nullptr) return AttachDevicePasid(domain, dev, pasid);
  Domain* old_domain = old->domain();
  for (Device* d : g.devices()) {
    absl::Status s = d->ops()->SetDevPasid(*d, pasid, domain, old_domain);
    if (!s.ok()) return s;
  }
  for (Device* d : g.devices()) {
    RemoveAttachment(*old_domain, *d, pasid);
    domain.mutable_attachments().push_back({d, pasid});
  }
  AttachHandle* h = NewHandle(&dev, pasid, &domain);
  g.pasid_array()[pasid.value()] = h;
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
  Group& g = *dev.group();
  AttachHandle* h = g.handle(pasid);
  if (h == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        dev.name(), " has nothing attached at PASID ", pasid.value()));
  }
  Domain* domain = h->domain();
  for (Device* d : g.devices()) {
    d->ops()->RemoveDevPasid(*d, pasid, *domain);
    // The driver drained the hardware; now the faults already reported.
    if (IopfQueue* q = d->iopf_queue()) q->FlushDevice(*d);
    RemoveAttachment(*domain, *d, pasid);
  }
  g.pasid_array().erase(pasid.value());
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
