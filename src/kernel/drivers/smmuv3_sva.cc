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
    : sim_(sim), driver_(driver), unit_(unit), policies_(policies) {
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
  if (next_asid_ >= (1u << 16)) {
    return absl::ResourceExhaustedError("out of SMMUv3 ASIDs");
  }
  auto d = std::make_unique<SmmuV3SvaDomain>(
      sim_, this, mm, Asid(static_cast<uint16_t>(next_asid_++)));
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
  absl::StatusOr<smmu::MasterDomain*> md =
      old != nullptr ? driver_.ReplaceSsid(sid, pasid.value(), domain.serial())
                     : driver_.AttachSsid(sid, pasid.value(), domain.serial());
  return md.status();
}

void SmmuV3SvaOps::RemoveDevPasid(Device& dev, Pasid pasid, Domain& domain) {
  (void)driver_.DetachSsid(dev.id().rid, pasid.value());
  // Old TLB entries of the ASID for this master go with the CD.
  (void)driver_.TlbiAsid(static_cast<SmmuV3SvaDomain&>(domain).asid());
}

void SmmuV3SvaOps::FreeDomain(Domain& domain) {
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
