#include "svaemu/kernel/sva/sva.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

Sva::Sva(IommuCore& core) : core_(core) {
  Kernel& k = core.kernel();
  switch (core.policies().kva_invalidation) {
    case KvaInvalidation::kPerFlush:
      k.pt_free().set_policy(KernelPtFreePolicy::kImmediate);
      k.kspace().AddFlushListener(
          [this](VirtAddr s, VirtAddr e) { InvalidateKvaRange(s, e); });
      break;
    case KvaInvalidation::kDeferredBatch:
      // kernel_pgtable_work_func(): the whole kernel range, once per batch.
      k.pt_free().set_policy(KernelPtFreePolicy::kDeferredBatch);
      k.pt_free().set_batch_hook([this, &k](std::span<const PhysAddr>) {
        InvalidateKvaRange(k.kspace().layout().kernel_start, VirtAddr(~0ull));
      });
      break;
    case KvaInvalidation::kNone:
    case KvaInvalidation::kUserOnlyRoot:
      k.pt_free().set_policy(KernelPtFreePolicy::kImmediate);
      break;
  }
}

IommuMm* Sva::mm_data(const Mm& mm) const {
  auto it = mm_data_.find(mm.space());
  return it == mm_data_.end() ? nullptr : it->second.get();
}

Mm* Sva::PasidOwner(Pasid pasid) const {
  for (const auto& [space, data] : mm_data_) {
    if (data->pasid() == pasid && !data->pasid_freed()) return data->mm();
  }
  return nullptr;
}

void Sva::FreePasid(IommuMm& data, const char* where) {
  if (data.pasid_freed()) return;
  data.set_pasid_freed();
  (void)core_.pasids().Free(data.pasid());
  core_.sim().Trace("sva", "pasid_free",
                    absl::StrCat(data.pasid().value(), " ", data.mm()->name(),
                                 " ", where));
}

absl::StatusOr<IommuMm*> Sva::AllocMmData(Mm& mm, Device& dev) {
  if (IommuMm* d = mm_data(mm)) {
    if (d->pasid().value() >= dev.max_pasids()) {
      return absl::OutOfRangeError(absl::StrCat(
          "mm PASID ", d->pasid().value(), " is beyond ", dev.name(), "'s width"));
    }
    return d;
  }
  if (mm.exited()) return absl::FailedPreconditionError("mm has exited");
  absl::StatusOr<Pasid> pasid = core_.pasids().Allocate(dev.max_pasids());
  if (!pasid.ok()) return pasid.status();
  auto data = std::make_unique<IommuMm>(core_.sim(), &mm, *pasid);
  IommuMm* raw = data.get();
  mm_data_[mm.space()] = std::move(data);
  core_.sim().Trace("sva", "pasid_alloc",
                    absl::StrCat(pasid->value(), " mm=", mm.name()));
  if (core_.policies().pasid_lifetime == PasidLifetime::kFreeAtExit) {
    mm.AddExitHook([this, raw](Mm&) { FreePasid(*raw, "__mmput"); });
  }
  // mm_pasid_drop() in __mmdrop(): the PASID (if still held) and the
  // iommu_mm go.
  mm.AddDropHook([this, raw](Mm& m) {
    FreePasid(*raw, "__mmdrop");
    auto it = mm_data_.find(m.space());
    Unlist(*raw);
    raw->Kfree("mm_pasid_drop");
    freed_mm_data_.push_back(std::move(it->second));
    mm_data_.erase(it);
  });
  return raw;
}

void Sva::Unlist(IommuMm& data) {
  if (!data.listed) return;
  data.listed = false;
  sva_mms_.erase(std::find(sva_mms_.begin(), sva_mms_.end(), &data));
  present_ = !sva_mms_.empty();
}

absl::StatusOr<AttachHandle*> Sva::Bind(Device& dev, Mm& mm) {
  if (dev.max_pasids() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(dev.name(), " has no PASID capability"));
  }
  absl::StatusOr<IommuMm*> data = AllocMmData(mm, dev);
  if (!data.ok()) return data.status();
  IommuMm& d = **data;
  const Pasid pasid = d.pasid();

  bool take_over = false;
  Domain* taken_from = nullptr;
  if (AttachHandle* h = dev.handle(pasid)) {
    Domain* dom = h->domain();
    if (dom->type() == DomainType::kSva && dom->mm() == &mm) {
      h->Ref();
      return h;
    }
    // The 2022 behaviour: the PASID was freed when the other mm exited, and
    // the old per-PASID driver state let the new mm take the slot over.
    take_over = core_.policies().pasid_lifetime == PasidLifetime::kFreeAtExit &&
                dom->mm() != nullptr && dom->mm()->exited();
    if (!take_over) {
      return absl::AlreadyExistsError(absl::StrCat(
          dev.name(), " PASID ", pasid.value(), " is bound to another mm"));
    }
    taken_from = dom;
  }

  // Reuse an SVA domain of this mm on the device's unit, else allocate one.
  Domain* domain = nullptr;
  for (Domain* dom : d.sva_domains()) {
    if (dom->ops() == dev.ops()) domain = dom;
  }
  bool fresh = false;
  if (domain == nullptr) {
    absl::StatusOr<Domain*> nd = core_.AllocSvaDomain(dev, mm);
    if (!nd.ok()) return nd.status();
    domain = *nd;
    fresh = true;
  }
  absl::StatusOr<AttachHandle*> h =
      take_over ? core_.ReplaceDevicePasid(*domain, dev, pasid)
                : core_.AttachDevicePasid(*domain, dev, pasid);
  if (!h.ok()) {
    if (fresh) (void)core_.FreeDomain(domain);
    return h.status();
  }
  if (fresh) d.sva_domains().push_back(domain);
  if (taken_from != nullptr && taken_from->users() == 0) {
    // The exited mm lost its last attachment: its domain goes, and with it
    // the domain's mm_count.
    if (IommuMm* old = mm_data(*taken_from->mm())) {
      auto& list = old->sva_domains();
      list.erase(std::remove(list.begin(), list.end(), taken_from), list.end());
      if (list.empty()) Unlist(*old);
    }
    (void)core_.FreeDomain(taken_from);
  }
  if (!d.listed) {
    d.listed = true;
    sva_mms_.push_back(&d);
    present_ = true;
  }
  core_.sim().Trace("sva", "bind",
                    absl::StrCat(dev.name(), " ", mm.name(), " pasid=", pasid.value()));
  return h;
}

absl::Status Sva::Unbind(AttachHandle* handle) {
  if (!handle->Use(Agent::Cpu(), "iommu_sva_unbind_device")) {
    return absl::FailedPreconditionError("unbind of a freed attach handle");
  }
  if (handle->Unref() > 0) return absl::OkStatus();
  Device& dev = *handle->dev();
  Domain* domain = handle->domain();
  Mm* mm = domain->mm();
  IommuMm* d = mm_data(*mm);
  absl::Status s = core_.DetachDevicePasid(dev, handle->pasid());
  if (!s.ok()) return s;
  core_.sim().Trace("sva", "unbind",
                    absl::StrCat(dev.name(), " ", mm->name(), " pasid=",
                                 handle->pasid().value()));
  if (domain->users() > 0) return absl::OkStatus();
  if (d != nullptr) {
    auto& list = d->sva_domains();
    list.erase(std::remove(list.begin(), list.end(), domain), list.end());
    // Before the domain's mmdrop, which may free the iommu_mm itself.
    if (list.empty()) Unlist(*d);
  }
  return core_.FreeDomain(domain);
}

void Sva::InvalidateKvaRangeSlow(VirtAddr start, VirtAddr end) {
  ++kva_invalidations_;
  core_.sim().Trace("sva", "invalidate_kva_range",
                    absl::StrCat(Hex(start.value()), "-", Hex(end.value())));
  // Copy: a notifier may not change the list, but be robust to it.
  const std::vector<IommuMm*> mms = sva_mms_;
  for (IommuMm* d : mms) d->mm()->FlushTlbRange(start, end);
}

}  // namespace svaemu::kernel
