// IommuCore: non-SVA domains (paging, identity, blocked), iommu_map /
// iommu_unmap, and attach/replace/detach at a device's RID
// (drivers/iommu/iommu.c: iommu_paging_domain_alloc, iommu_map,
// iommu_unmap, iommu_attach_group, iommu_group_replace_domain,
// iommu_detach_group, __iommu_group_set_domain). docs/domains.md.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "svaemu/base/check.h"
#include "svaemu/base/logging.h"
#include "svaemu/kernel/iommu/iommu_core.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

namespace {

bool IsRidType(DomainType t) {
  return t == DomainType::kPaging || t == DomainType::kIdentity ||
         t == DomainType::kBlocked;
}

}  // namespace

Domain* IommuCore::ChooseDefaultDomain(IommuOps* ops) {
  // iommu_get_default_domain_type(): identity only if asked for and the
  // unit can (a unit that cannot gets blocked, as Linux falls back when a
  // driver refuses identity).
  if (default_domain_ == DefaultDomain::kIdentity) {
    if (Domain* id = ops->IdentityDomain()) return id;
    GetLogger("iommu")->warn("{}{}: no identity domain; default is blocked",
                             ops->name(), ops->unit());
  }
  return ops->BlockedDomain();
}

absl::StatusOr<PagingDomain*> IommuCore::AllocPagingDomain(Device& dev) {
  PagingDomainArgs args{.alloc = &kernel_.alloc(), .space = SpaceId(next_space_)};
  absl::StatusOr<std::unique_ptr<Domain>> d =
      dev.ops()->AllocPagingDomain(dev, args);
  if (!d.ok()) return d.status();
  SVAEMU_CHECK((*d)->type() == DomainType::kPaging);
  ++next_space_;
  domains_.push_back(*std::move(d));
  sim().Trace("iommu", "domain_alloc_paging", domains_.back()->name());
  return static_cast<PagingDomain*>(domains_.back().get());
}

absl::StatusOr<Domain*> IommuCore::IdentityDomain(Device& dev) {
  Domain* d = dev.ops()->IdentityDomain();
  if (d == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        dev.ops()->name(), dev.ops()->unit(),
        " has no identity domain (VT-d: ECAP.PT is clear)"));
  }
  return d;
}

absl::StatusOr<Domain*> IommuCore::BlockedDomain(Device& dev) {
  Domain* d = dev.ops()->BlockedDomain();
  if (d == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        dev.ops()->name(), dev.ops()->unit(), " has no blocked domain"));
  }
  return d;
}

void IommuCore::FreePageTables(PagingDomain& d) {
  // Every table below the root over the whole aperture, then the root.
  std::vector<PhysAddr> tables;
  absl::Status s = d.pt().FreeTables(
      d.aperture_start(), d.aperture_end() + 1, &tables);
  SVAEMU_CHECK(s.ok());
  tables.push_back(d.pgd());
  for (PhysAddr t : tables) kernel_.alloc().Free(t, "iommu_domain_free");
}

absl::Status IommuCore::CheckMapRange(Domain& domain, VirtAddr iova,
                                      uint64_t size, const char* op) {
  if (!domain.Use(Agent::Cpu(), op)) {
    return absl::FailedPreconditionError(
        absl::StrCat(op, ": ", domain.name(), " was freed"));
  }
  if (domain.type() != DomainType::kPaging) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": ", domain.name(), " is not a paging domain"));
  }
  if (size == 0 || !iova.IsAligned(kPageSize4K) || size % kPageSize4K != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": iova ", Hex(iova.value()), " size ", Hex(size),
        " is not a non-empty 4 KiB-aligned range"));
  }
  const auto& pd = static_cast<PagingDomain&>(domain);
  const uint64_t last = iova.value() + (size - 1);
  if (last < iova.value() || iova < pd.aperture_start() ||
      last > pd.aperture_end().value()) {
    return absl::OutOfRangeError(absl::StrCat(
        op, ": [", Hex(iova.value()), ", ", Hex(last), "] is outside the aperture [",
        Hex(pd.aperture_start().value()), ", ", Hex(pd.aperture_end().value()), "]"));
  }
  return absl::OkStatus();
}

absl::Status IommuCore::Map(Domain& domain, VirtAddr iova, PhysAddr paddr,
                            uint64_t size, int prot) {
  if (absl::Status s = CheckMapRange(domain, iova, size, "iommu_map"); !s.ok()) {
    return s;
  }
  if (!paddr.IsAligned(kPageSize4K)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "iommu_map: paddr ", Hex(paddr.value()), " is not 4 KiB aligned"));
  }
  if ((prot & (kIommuRead | kIommuWrite)) == 0) {
    return absl::InvalidArgumentError("iommu_map: prot grants neither read nor write");
  }
  auto& pd = static_cast<PagingDomain&>(domain);
  // Nothing may be mapped in the range (an overlap changes nothing).
  for (uint64_t off = 0; off < size;) {
    std::optional<arch::Translation> t = pd.pt().Lookup(iova + off);
    if (t.has_value()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "iommu_map: iova ", Hex((iova + off).value()), " is already mapped"));
    }
    off += kPageSize4K;
  }
  // Leaves as IOMMU page tables carry them: user (requests without PASID
  // are unprivileged: VT-d 9.4 RID_PRIV = 0, SMMUv3 unprivileged), and
  // Linux's first-stage/LPAE leaves are accessed already.
  arch::MapAttrs attrs;
  attrs.write = (prot & kIommuWrite) != 0;
  attrs.user = true;
  attrs.exec = (prot & kIommuNoExec) == 0;
  attrs.accessed = true;
  // iommu_pgsize(): the largest supported page that the alignment of iova
  // and paddr and the remaining size allow.
  uint64_t done = 0;
  while (done < size) {
    const uint64_t va = iova.value() + done;
    const uint64_t pa = paddr.value() + done;
    absl::Status s;
    for (uint64_t pg : {1ull << 30, 1ull << 21, 1ull << 12}) {
      if ((PagingDomain::kPgsizeBitmap & pg) == 0) continue;
      if (((va | pa) & (pg - 1)) != 0 || size - done < pg) continue;
      s = pd.pt().Map(VirtAddr(va), PhysAddr(pa), pg, pg, attrs);
      // A table already there where a huge leaf would go: a smaller page.
      if (absl::IsFailedPrecondition(s) && pg != kPageSize4K) continue;
      if (s.ok()) done += pg;
      break;
    }
    if (!s.ok()) {
      // iommu_map() error path: undo what this call mapped.
      if (done > 0) (void)Unmap(domain, iova, done);
      return s;
    }
  }
  sim().Trace("iommu", "map",
              absl::StrCat(domain.name(), " ", Hex(iova.value()), "+", Hex(size)));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> IommuCore::Unmap(Domain& domain, VirtAddr iova,
                                          uint64_t size) {
  if (absl::Status s = CheckMapRange(domain, iova, size, "iommu_unmap"); !s.ok()) {
    return s;
  }
  auto& pd = static_cast<PagingDomain&>(domain);
  // What is mapped inside the range (a huge page partly inside counts for
  // its part inside: the builder splits it).
  uint64_t mapped = 0;
  const uint64_t end = iova.value() + size;  // aperture_end + 1 at most
  for (uint64_t va = iova.value(); va < end;) {
    std::optional<arch::Translation> t = pd.pt().Lookup(VirtAddr(va));
    if (!t.has_value()) {
      va += kPageSize4K;
      continue;
    }
    const uint64_t leaf_end = ((va >> t->page_shift) + 1) << t->page_shift;
    const uint64_t stop = std::min(leaf_end, end);
    mapped += stop - va;
    va = stop;
  }
  if (mapped == 0) return uint64_t{0};
  absl::Status s = pd.pt().Unmap(iova, size);
  if (!s.ok()) return s;
  // __iommu_unmap() gathers; the page-table pages the range emptied are
  // detached now and freed after iommu_iotlb_sync().
  std::vector<PhysAddr> freelist;
  s = pd.pt().FreeTables(iova, VirtAddr(end), &freelist);
  SVAEMU_CHECK(s.ok());
  const IotlbGather gather{.start = iova, .end = VirtAddr(end),
                           .freed_tables = !freelist.empty()};
  auto free_tables = [&] {
    for (PhysAddr t : freelist) kernel_.alloc().Free(t, "iommu_put_pages_list");
  };
  if (unmap_order_ == UnmapOrder::kFreeThenSync) free_tables();
  s = pd.ops()->IotlbSync(pd, gather);
  if (!s.ok()) {
    GetLogger("iommu")->warn("iotlb_sync failed: {}", s.ToString());
  }
  if (unmap_order_ == UnmapOrder::kSyncThenFree) free_tables();
  sim().Trace("iommu", "unmap",
              absl::StrCat(domain.name(), " ", Hex(iova.value()), "+", Hex(size)));
  return mapped;
}

absl::Status IommuCore::CheckRidDomain(Domain& domain, Device& dev, const char* op) {
  if (!domain.Use(Agent::Cpu(), op)) {
    return absl::FailedPreconditionError(
        absl::StrCat(op, ": ", domain.name(), " was freed"));
  }
  if (!IsRidType(domain.type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", domain.name(), " cannot be attached at a RID (SVA domains attach at a PASID)"));
  }
  if (domain.ops() != dev.ops()) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", domain.name(), " belongs to another IOMMU unit than ", dev.name()));
  }
  return absl::OkStatus();
}

absl::Status IommuCore::SetGroupDomain(Group& g, Domain& domain) {
  Domain* old = g.domain();
  if (old == &domain) return absl::OkStatus();
  std::vector<Device*> done;
  for (Device* d : g.devices()) {
    absl::Status s = d->ops()->AttachDev(*d, domain, old);
    if (!s.ok()) {
      // __iommu_group_set_domain_internal(): put back the devices done.
      for (Device* u : done) {
        if (old != nullptr) (void)u->ops()->AttachDev(*u, *old, &domain);
      }
      return s;
    }
    done.push_back(d);
  }
  for (Device* d : g.devices()) {
    if (old != nullptr) {
      auto& a = old->mutable_attachments();
      a.erase(std::remove_if(a.begin(), a.end(),
                             [&](const Attachment& x) { return x.dev == d && x.rid; }),
              a.end());
    }
    domain.mutable_attachments().push_back({d, Pasid(0), true});
  }
  g.set_domain(&domain);
  return absl::OkStatus();
}

absl::Status IommuCore::AttachDevice(Domain& domain, Device& dev) {
  if (absl::Status s = CheckRidDomain(domain, dev, "iommu_attach_group"); !s.ok()) {
    return s;
  }
  Group& g = *dev.group();
  Domain* cur = g.domain();
  // __iommu_attach_group(): EBUSY unless the group is in its default or
  // blocked state (or already in `domain`).
  if (cur != nullptr && cur != &domain && cur != g.default_domain() &&
      cur->type() != DomainType::kBlocked) {
    return absl::FailedPreconditionError(absl::StrCat(
        "iommu_attach_group: ", dev.name(), "'s group is attached to ",
        cur->name(), " (EBUSY; use ReplaceDevice)"));
  }
  absl::Status s = SetGroupDomain(g, domain);
  if (!s.ok()) return s;
  sim().Trace("iommu", "attach_dev", absl::StrCat(dev.name(), " ", domain.name()));
  return absl::OkStatus();
}

absl::Status IommuCore::ReplaceDevice(Domain& domain, Device& dev) {
  if (absl::Status s = CheckRidDomain(domain, dev, "iommu_group_replace_domain");
      !s.ok()) {
    return s;
  }
  absl::Status s = SetGroupDomain(*dev.group(), domain);
  if (!s.ok()) return s;
  sim().Trace("iommu", "replace_dev", absl::StrCat(dev.name(), " ", domain.name()));
  return absl::OkStatus();
}

absl::Status IommuCore::DetachDevice(Domain& domain, Device& dev) {
  Group& g = *dev.group();
  if (g.domain() != &domain) {
    return absl::FailedPreconditionError(absl::StrCat(
        "iommu_detach_group: ", dev.name(), "'s group is not attached to ",
        domain.name()));
  }
  Domain* def = g.default_domain();
  if (def == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("iommu_detach_group: ", dev.name(), " has no default domain"));
  }
  absl::Status s = SetGroupDomain(g, *def);
  if (!s.ok()) return s;
  sim().Trace("iommu", "detach_dev", absl::StrCat(dev.name(), " ", domain.name()));
  return absl::OkStatus();
}

}  // namespace svaemu::kernel
