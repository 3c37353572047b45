// VtdSvaOps: paging, identity and blocked domains at a device's RID
// (drivers/iommu/intel/iommu.c: intel_iommu_domain_alloc_paging_flags,
// intel_iommu_attach_device / domain_setup_first_level,
// identity_domain_attach_dev, blocking_domain_attach_dev,
// intel_iommu_tlb_sync; cache.c: cache_tag_flush_range).
#include "absl/strings/str_cat.h"
#include "svaemu/kernel/drivers/vtd_sva.h"

namespace svaemu::kernel {

namespace {
// Requests without a PASID use the context entry's RID_PASID, which the
// driver sets to 0 (AttachOptions::rid_pasid, Linux IOMMU_NO_PASID).
constexpr Pasid kRidPasid{0};
// First-stage IOVAs must be canonical: a 4-level table translates the
// lower half, [0, 2^47) (intel: aperture of first-stage domains).
constexpr uint64_t kFirstStageApertureEnd = (1ull << 47) - 1;
}  // namespace

VtdPagingDomain::VtdPagingDomain(sim::Simulation& sim, VtdSvaOps* ops,
                                 arch::PageTableBuilder pt, DomainId did)
    : PagingDomain(sim, ops, std::move(pt), VirtAddr(kFirstStageApertureEnd),
                   "intel_iommu_domain_alloc_paging"),
      did_(did) {}

absl::StatusOr<DomainId> VtdSvaOps::AllocDid() {
  // Domain IDs: CAP.ND bounds them; the model's default (ND=2, 256 IDs) is
  // far above what a scenario uses, so a wrap is an emulator-use error.
  if (next_did_ >= 256) {
    return absl::ResourceExhaustedError("out of VT-d domain IDs");
  }
  return DomainId(next_did_++);
}

absl::StatusOr<std::unique_ptr<Domain>> VtdSvaOps::AllocPagingDomain(
    Device&, const PagingDomainArgs& args) {
  absl::StatusOr<DomainId> did = AllocDid();
  if (!did.ok()) return did.status();
  absl::StatusOr<arch::PageTableBuilder> pt = arch::PageTableBuilder::Create(
      *args.alloc, arch::PtFormat::kX86_4Level, args.space, "intel_pgtable_alloc");
  if (!pt.ok()) return pt.status();
  return std::unique_ptr<Domain>(
      std::make_unique<VtdPagingDomain>(sim_, this, *std::move(pt), *did));
}

Domain* VtdSvaOps::IdentityDomain() {
  return driver_.pass_through_supported() ? &identity_ : nullptr;
}

absl::Status VtdSvaOps::AttachDev(Device& dev, Domain& domain, Domain*) {
  const StreamId rid = dev.id().rid;
  // What is in the RID_PASID entry now decides set-up or replace.
  const bool present = driver_.PasidEntryPresent(rid, kRidPasid);
  switch (domain.type()) {
    case DomainType::kPaging: {
      auto& d = static_cast<VtdPagingDomain&>(domain);
      vtd::FirstStageOptions fs;  // 4-level, user requests only
      return present ? driver_.ReplaceFirstStagePasid(rid, kRidPasid, d.pgd(), d.did(), fs)
                     : driver_.SetupFirstStagePasid(rid, kRidPasid, d.pgd(), d.did(), fs);
    }
    case DomainType::kIdentity:
      if (!driver_.pass_through_supported()) {
        return absl::FailedPreconditionError("vtd: ECAP.PT is clear: no identity domain");
      }
      return driver_.SetupPassThroughPasid(rid, kRidPasid, kPassThroughDid, present);
    case DomainType::kBlocked:
      // intel_pasid_tear_down_entry(): nothing to do when not present.
      if (!present) return absl::OkStatus();
      return driver_.TearDownPasid(rid, kRidPasid, /*suppress_faults=*/false);
    case DomainType::kSva:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(domain.name(), ": an SVA domain has no RID attach"));
}

absl::Status VtdSvaOps::IotlbSync(PagingDomain& domain, const IotlbGather& gather) {
  auto& d = static_cast<VtdPagingDomain&>(domain);
  absl::Status result;
  for (const Attachment& a : d.attachments()) {
    // Each (device, PASID) carries the domain's DID: one flush per PASID
    // (RID_PASID for RID attachments), devices sharing it share the IOTLB
    // entries; page-selective, IH = 0 when tables were freed.
    const Pasid pasid = a.rid ? kRidPasid : a.pasid;
    absl::Status s = driver_.FlushPasidRange(d.did(), pasid, gather.start, gather.end,
                                             gather.freed_tables);
    if (!s.ok() && result.ok()) result = s;
  }
  return result;
}

}  // namespace svaemu::kernel
