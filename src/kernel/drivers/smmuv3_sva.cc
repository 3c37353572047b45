#include "svaemu/kernel/drivers/smmuv3_sva.h"

#include "svaemu/kernel/iommu/iommu_core.h"
#include "svaemu/kernel/mm.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

namespace smmu = drivers::smmuv3;

SmmuV3SvaDomain::SmmuV3SvaDomain(sim::Simulation& sim, SmmuV3SvaOps* ops,
                                 Mm& mm, Asid asid)
    : Domain(sim, DomainType::kSva, ops, &mm, "arm_smmu_sva_domain_alloc"),
      smmu_(ops),
      asid_(asid) {}

void SmmuV3SvaDomain::InvalidateSecondaryTlbs(Mm&, VirtAddr start,
                                              VirtAddr end) {
  smmu_->Flush(*this, start, end);
}

void SmmuV3SvaDomain::Release(Mm&) { smmu_->Release(*this); }

SmmuV3SvaOps::SmmuV3SvaOps(sim::Simulation& sim,
                           smmu::SmmuV3Driver& driver, uint16_t unit,
                           Policies policies)
    : sim_(sim), driver_(driver), unit_(unit), policies_(policies),
      identity_(sim, DomainType::kIdentity, this, nullptr, "arm_smmu_identity_domain"),
      blocked_(sim, DomainType::kBlocked, this, nullptr, "arm_smmu_blocked_domain") {
  driver_.set_detach_drain(policies.detach_drain);
}

void SmmuV3SvaOps::ConnectIopf(IommuCore& core) {
  IopfQueue* q = core.iopf_queue(unit_);
  driver_.set_iopf_sink(q);
  driver_.set_iopf_flush([&core, this](const FaultSource& src) {
    for (const auto& dev : core.devices()) {
      if (dev->id() == src && dev->iopf_queue() != nullptr) {
        dev->iopf_queue()->FlushDevice(*dev);
      }
    }
  });
}

absl::Status SmmuV3SvaOps::ProbeDevice(Device& dev) {
  smmu::MasterConfig m;
  m.sid = dev.id().rid;
  m.ssid_bits = dev.caps().pasid_bits;
  m.stall = dev.caps().stall;
  m.ats = dev.caps().ats;
  m.pri = dev.caps().pri;
  return driver_.AttachMaster(m);
}

absl::StatusOr<std::unique_ptr<Domain>> SmmuV3SvaOps::AllocSvaDomain(Device&,
                                                                     Mm& mm) {
  absl::StatusOr<Asid> asid = AllocAsid();
  if (!asid.ok()) return asid.status();
  auto d = std::make_unique<SmmuV3SvaDomain>(sim_, this, mm, *asid);
  absl::Status s = mm.RegisterNotifier(d.get());
  if (!s.ok()) return s;
  return std::unique_ptr<Domain>(std::move(d));
}

absl::Status SmmuV3SvaOps::SetDevPasid(Device& dev, Pasid pasid,
                                       Domain& domain, Domain* old) {
  auto& d = static_cast<SmmuV3SvaDomain&>(domain);
  const StreamId sid = dev.id().rid;
  absl::Status s = driver_.WriteSvaCd(sid, pasid.value(), domain.mm()->pgd(),
                                      d.asid());
  if (!s.ok()) return s;
  // arm_smmu_set_pasid(): a blocked/identity RID has an abort/bypass STE;
  // the PASID needs the CD table.
  s = UpgradeSteForPasid(dev);
  if (!s.ok()) return s;
  absl::StatusOr<smmu::MasterDomain*> md =
      old != nullptr ? driver_.ReplaceSsid(sid, pasid.value(), domain.serial())
                     : driver_.AttachSsid(sid, pasid.value(), domain.serial());
  return md.status();
}

void SmmuV3SvaOps::RemoveDevPasid(Device& dev, Pasid pasid, Domain& domain) {
  (void)driver_.DetachSsid(dev.id().rid, pasid.value());
  // Old TLB entries of the ASID for this master go with the CD.
  (void)driver_.TlbiAsid(static_cast<SmmuV3SvaDomain&>(domain).asid());
  // The last PASID gone: the RID domain's own STE again.
  (void)DowngradeSteAfterPasid(dev);
}

void SmmuV3SvaOps::FreeDomain(Domain& domain) {
  if (domain.type() == DomainType::kPaging) {
    // arm_smmu_domain_free_paging(): nothing of the ASID may outlive the
    // domain's tables (the core frees them after this).
    (void)driver_.TlbiAsid(static_cast<SmmuV3PagingDomain&>(domain).asid());
    return;
  }
  if (domain.type() != DomainType::kSva) return;
  auto& d = static_cast<SmmuV3SvaDomain&>(domain);
  if (d.registered()) (void)domain.mm()->UnregisterNotifier(&d);
}

void SmmuV3SvaOps::PageResponse(const FaultSource& src, const IopfFault& last,
                                PageResponseCode code) {
  driver_.PageResponse(src, last, code);
}

void SmmuV3SvaOps::Flush(SmmuV3SvaDomain& d, VirtAddr start, VirtAddr end) {
  const sim::Cycles before = sim_.now();
  if (start.value() == 0 && end.value() == ~0ull) {
    (void)driver_.TlbiAsid(d.asid());
  } else {
    (void)driver_.TlbiVa(d.asid(), start, end - start, /*leaf=*/false);
  }
  ++invalidations_;
  for (const Attachment& a : d.attachments()) {
    if (a.dev->caps().ats) {
      (void)driver_.AtcInvalidate(a.dev->id().rid, a.pasid.value(), start,
                                  end - start);
    }
  }
  invalidation_cycles_ += sim_.now() - before;
}

void SmmuV3SvaOps::Release(SmmuV3SvaDomain& d) {
  for (const Attachment& a : d.attachments()) {
    if (policies_.exit_teardown == ExitTeardown::kDeactivate) {
      (void)driver_.ClearCd(a.dev->id().rid, a.pasid.value());
    } else {
      (void)driver_.QuiesceCd(a.dev->id().rid, a.pasid.value());
    }
  }
}

}  // namespace svaemu::kernel
