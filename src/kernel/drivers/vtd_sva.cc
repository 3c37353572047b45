#include "svaemu/kernel/drivers/vtd_sva.h"

#include "absl/strings/str_cat.h"
#include "svaemu/kernel/mm.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

VtdSvaDomain::VtdSvaDomain(sim::Simulation& sim, VtdSvaOps* ops, Mm& mm,
                           DomainId did)
    : Domain(sim, DomainType::kSva, ops, &mm, "intel_svm_domain_alloc"),
      vtd_(ops),
      did_(did) {}

void VtdSvaDomain::InvalidateSecondaryTlbs(Mm&, VirtAddr start, VirtAddr end) {
  vtd_->Flush(*this, start, end);
}

void VtdSvaDomain::Release(Mm&) { vtd_->Teardown(*this); }

VtdSvaOps::VtdSvaOps(sim::Simulation& sim, vtd::VtdDriver& driver,
                     uint16_t unit, Policies policies, VtdSvaOptions options)
    : sim_(sim),
      driver_(driver),
      unit_(unit),
      policies_(policies),
      options_(options),
      identity_(sim, DomainType::kIdentity, this, nullptr, "intel_identity_domain"),
      blocked_(sim, DomainType::kBlocked, this, nullptr, "intel_blocking_domain") {}

absl::Status VtdSvaOps::ProbeDevice(Device& dev) {
  vtd::AttachOptions o;
  o.pasid_bits = dev.caps().pasid_bits;
  o.ats = dev.caps().ats;
  o.pri = dev.caps().pri;
  return driver_.AttachDevice(dev.id().rid, o);
}

absl::StatusOr<std::unique_ptr<Domain>> VtdSvaOps::AllocSvaDomain(Device&,
                                                                  Mm& mm) {
  absl::StatusOr<DomainId> did = AllocDid();
  if (!did.ok()) return did.status();
  auto d = std::make_unique<VtdSvaDomain>(sim_, this, mm, *did);
  absl::Status s = mm.RegisterNotifier(d.get());
  if (!s.ok()) return s;
  return std::unique_ptr<Domain>(std::move(d));
}

absl::Status VtdSvaOps::SetDevPasid(Device& dev, Pasid pasid, Domain& domain,
                                    Domain* old) {
  auto& d = static_cast<VtdSvaDomain&>(domain);
  if (old != nullptr) {
    absl::Status s = driver_.TearDownPasid(dev.id().rid, pasid, false);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  Mm& mm = *domain.mm();
  PhysAddr root = mm.pgd();
  if (policies_.kva_invalidation == KvaInvalidation::kUserOnlyRoot) {
    absl::StatusOr<PhysAddr> r = mm.EnableUserOnlyRoot();
    if (!r.ok()) return r.status();
    root = *r;
  }
  vtd::FirstStageOptions fs;
  fs.levels = mm.format() == arch::PtFormat::kX86_5Level ? 5 : 4;
  fs.sre = options_.supervisor_requests;
  return driver_.SetupFirstStagePasid(dev.id().rid, pasid, root, d.did(), fs);
}

void VtdSvaOps::RemoveDevPasid(Device& dev, Pasid pasid, Domain&) {
  // The entry may already be gone (torn down at mm release).
  (void)driver_.TearDownPasid(dev.id().rid, pasid, false);
  (void)driver_.DrainPasidPrq(dev.id().rid, pasid);
}

void VtdSvaOps::FreeDomain(Domain& domain) {
  // A paging domain's DID is never reused (the allocator only counts up)
  // and every attachment flushed it when it went: nothing to do.
  if (domain.type() != DomainType::kSva) return;
  auto& d = static_cast<VtdSvaDomain&>(domain);
  if (d.registered()) (void)domain.mm()->UnregisterNotifier(&d);
}

void VtdSvaOps::PageResponse(const FaultSource& src, const IopfFault& last,
                             PageResponseCode code) {
  driver_.PageResponse(src, last, code);
}

void VtdSvaOps::Flush(VtdSvaDomain& d, VirtAddr start, VirtAddr end) {
  const sim::Cycles before = sim_.now();
  for (const Attachment& a : d.attachments()) {
    // ih = 0: page-table pages may have been freed (always, for SVA).
    if (start.value() == 0 && end.value() == ~0ull) {
      (void)driver_.FlushPasidAll(d.did(), a.pasid);
    } else {
      (void)driver_.FlushPasidRange(d.did(), a.pasid, start, end,
                                    /*page_tables_freed=*/true);
    }
    ++invalidations_;
  }
  invalidation_cycles_ += sim_.now() - before;
}

void VtdSvaOps::Teardown(VtdSvaDomain& d) {
  const bool suppress = policies_.exit_teardown != ExitTeardown::kDeactivate;
  for (const Attachment& a : d.attachments()) {
    (void)driver_.TearDownPasid(a.dev->id().rid, a.pasid, suppress);
  }
}

}  // namespace svaemu::kernel
