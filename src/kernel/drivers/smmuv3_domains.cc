// SmmuV3SvaOps: paging, identity and blocked domains at a master's RID
// (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: arm_smmu_domain_alloc_paging,
// arm_smmu_attach_dev, arm_smmu_attach_dev_identity,
// arm_smmu_attach_dev_blocked, arm_smmu_attach_dev_ste, arm_smmu_set_pasid,
// arm_smmu_remove_dev_pasid, arm_smmu_tlb_inv_range_domain). SMMUv3 spec
// 5.2 (STE.Config, STE.S1DSS), 5.4 (CD), 7.3.7 (abort without event).
#include "absl/strings/str_cat.h"
#include "svaemu/kernel/drivers/smmuv3_sva.h"

namespace svaemu::kernel {

namespace smmu = drivers::smmuv3;
using hw::smmuv3::Ste;

namespace {
// Stage 1 with T0SZ = 16 and EPD1 = 1: TTB0 translates [0, 2^48).
constexpr uint64_t kStage1ApertureEnd = (1ull << 48) - 1;
// Requests without a SubstreamID use CD 0 under S1DSS = SSID0.
constexpr uint32_t kSsid0 = 0;
}  // namespace

SmmuV3PagingDomain::SmmuV3PagingDomain(sim::Simulation& sim, SmmuV3SvaOps* ops,
                                       arch::PageTableBuilder pt, Asid asid)
    : PagingDomain(sim, ops, std::move(pt), VirtAddr(kStage1ApertureEnd),
                   "arm_smmu_domain_alloc_paging"),
      asid_(asid) {}

absl::StatusOr<Asid> SmmuV3SvaOps::AllocAsid() {
  if (next_asid_ >= (1u << 16)) {
    return absl::ResourceExhaustedError("out of SMMUv3 ASIDs");
  }
  return Asid(static_cast<uint16_t>(next_asid_++));
}

absl::StatusOr<std::unique_ptr<Domain>> SmmuV3SvaOps::AllocPagingDomain(
    Device&, const PagingDomainArgs& args) {
  absl::StatusOr<Asid> asid = AllocAsid();
  if (!asid.ok()) return asid.status();
  absl::StatusOr<arch::PageTableBuilder> pt = arch::PageTableBuilder::Create(
      *args.alloc, arch::PtFormat::kArm64_4K48, args.space, "arm_lpae_alloc_pgtable");
  if (!pt.ok()) return pt.status();
  return std::unique_ptr<Domain>(
      std::make_unique<SmmuV3PagingDomain>(sim_, this, *std::move(pt), *asid));
}

uint64_t SmmuV3SvaOps::S1dssFor(const Domain* d) {
  if (d == nullptr) return Ste::kS1DSSTerminate;
  switch (d->type()) {
    case DomainType::kPaging: return Ste::kS1DSSSsid0;
    case DomainType::kIdentity: return Ste::kS1DSSBypass;
    default: return Ste::kS1DSSTerminate;
  }
}

absl::Status SmmuV3SvaOps::UpgradeSteForPasid(Device& dev) {
  const StreamId sid = dev.id().rid;
  if (driver_.ste_kind(sid) == smmu::SteKind::kCdTable) return absl::OkStatus();
  return driver_.InstallSte(sid, smmu::SteKind::kCdTable,
                            S1dssFor(dev.group()->domain()));
}

absl::Status SmmuV3SvaOps::DowngradeSteAfterPasid(Device& dev) {
  const StreamId sid = dev.id().rid;
  const Domain* rid = dev.group()->domain();
  if (rid == nullptr || driver_.SsidsInUse(sid)) return absl::OkStatus();
  if (rid->type() == DomainType::kIdentity) {
    return driver_.InstallSte(sid, smmu::SteKind::kBypass);
  }
  if (rid->type() == DomainType::kBlocked) {
    return driver_.InstallSte(sid, smmu::SteKind::kAbort);
  }
  return absl::OkStatus();
}

absl::Status SmmuV3SvaOps::AttachDev(Device& dev, Domain& domain, Domain*) {
  const StreamId sid = dev.id().rid;
  const bool pasids = driver_.SsidsInUse(sid);
  absl::Status s;
  switch (domain.type()) {
    case DomainType::kPaging: {
      // arm_smmu_attach_dev(): CD 0 first, then the STE that uses it.
      auto& d = static_cast<SmmuV3PagingDomain&>(domain);
      s = driver_.WritePagingCd(sid, kSsid0, d.pgd(), d.asid());
      if (!s.ok()) return s;
      return driver_.InstallSte(sid, smmu::SteKind::kCdTable, Ste::kS1DSSSsid0);
    }
    case DomainType::kIdentity:
    case DomainType::kBlocked: {
      // arm_smmu_attach_dev_ste(): keep the CD table while PASIDs use it,
      // with S1DSS saying what happens without a SubstreamID.
      const bool identity = domain.type() == DomainType::kIdentity;
      if (pasids) {
        s = driver_.InstallSte(sid, smmu::SteKind::kCdTable, S1dssFor(&domain));
      } else {
        s = driver_.InstallSte(sid, identity ? smmu::SteKind::kBypass
                                             : smmu::SteKind::kAbort);
      }
      if (!s.ok()) return s;
      // ... then arm_smmu_clear_cd(master, IOMMU_NO_PASID).
      absl::StatusOr<hw::smmuv3::Cd> cd0 = driver_.ReadCd(sid, kSsid0);
      if (cd0.ok() && cd0->Flag(hw::smmuv3::Cd::kV)) return driver_.ClearCd(sid, kSsid0);
      return absl::OkStatus();
    }
    case DomainType::kSva:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(domain.name(), ": an SVA domain has no RID attach"));
}

absl::Status SmmuV3SvaOps::IotlbSync(PagingDomain& domain, const IotlbGather& gather) {
  auto& d = static_cast<SmmuV3PagingDomain&>(domain);
  // arm_smmu_tlb_inv_range_domain(): one ASID for every attachment; leaf
  // only when no table was freed (walk-cache entries must go otherwise).
  absl::Status result = driver_.TlbiVa(d.asid(), gather.start,
                                       gather.end - gather.start,
                                       /*leaf=*/!gather.freed_tables);
  for (const Attachment& a : d.attachments()) {
    if (!a.dev->caps().ats) continue;
    std::optional<uint32_t> ssid;
    if (!a.rid) ssid = a.pasid.value();
    absl::Status s = driver_.AtcInvalidate(a.dev->id().rid, ssid, gather.start,
                                           gather.end - gather.start);
    if (!s.ok() && result.ok()) result = s;
  }
  return result;
}

}  // namespace svaemu::kernel
