// VtdDriver: writing and replacing scalable-mode PASID table entries
// (drivers/iommu/intel/pasid.c: intel_pasid_setup_first_level,
// intel_pasid_replace_first_level, intel_pasid_setup_pass_through,
// intel_pasid_replace_pass_through, intel_pasid_flush_present). VT-d spec
// 9.6 (PASID table entry, PGTT), 6.5.2.3/6.5.2.4 (PASID-cache and
// PASID-based IOTLB invalidation), 6.5.2.6 (device-TLB).
#include <array>
#include <vector>

#include "svaemu/base/bits.h"
#include "svaemu/hw/vtd/regs.h"
#include "svaemu/kernel/drivers/vtd/vtd_driver.h"
#include "svaemu/mem/phys_mem.h"

namespace svaemu::kernel::vtd {

using namespace hw::vtd;  // NOLINT: register and descriptor names

namespace {
mem::Access CpuAccess() { return mem::Access::Cpu(Purpose::kData); }
}  // namespace

bool VtdDriver::pass_through_supported() const { return Bit(ecap_, Ecap::kPt); }

bool VtdDriver::PasidEntryPresent(StreamId rid_id, Pasid pasid) {
  auto dev = devices_.find(static_cast<uint16_t>(rid_id.value()));
  if (dev == devices_.end()) return false;
  absl::StatusOr<PhysAddr> pe_pa = PasidEntryAddress(dev->second, pasid.value(), false);
  return pe_pa.ok() && Bit(mem_.Read64(*pe_pa, CpuAccess()), 0);
}

absl::Status VtdDriver::InstallPasidEntry(uint16_t rid, uint32_t pasid, const PasidEntry& e,
                                          bool replace) {
  auto dev = devices_.find(rid);
  if (dev == devices_.end()) return absl::NotFoundError("device not attached");
  if ((pasid >> dev->second.opts.pasid_bits) != 0) {
    return absl::OutOfRangeError("PASID beyond the device's width");
  }
  absl::StatusOr<PhysAddr> pe_pa = PasidEntryAddress(dev->second, pasid, /*allocate=*/true);
  if (!pe_pa.ok()) return pe_pa.status();
  std::array<uint64_t, 8> old_raw{};
  for (int i = 0; i < 8; ++i) old_raw[i] = mem_.Read64(*pe_pa + 8 * i, CpuAccess());
  const PasidEntry old = PasidEntry::Decode(old_raw);
  if (!replace && old.p) return absl::AlreadyExistsError("PASID entry present (-EBUSY)");
  if (replace && !old.p) return absl::NotFoundError("PASID entry not present: nothing to replace");
  const auto raw = e.Encode();
  // A new entry: P last. A replacement: the hardware reads the entry only
  // on a PASID-cache miss, and the cached (old) entry stays in use until
  // the invalidation below, so the words go in order with P kept set.
  for (int i = 7; i >= 0; --i) mem_.Write64(*pe_pa + 8 * i, raw[i], CpuAccess());
  bindings_[{rid, pasid}] = Binding{e.did};
  if (!replace) {
    // pasid_flush_caches(): CM=0 caches no non-present entry; nothing to do.
    return absl::OkStatus();
  }
  // intel_pasid_flush_present(): everything cached under the old DID.
  std::vector<RawDesc> descs = {
      PasidCacheDesc{.g = 1, .did = old.did, .pasid = pasid}.Encode(),
      PiotlbDesc{.g = PiotlbDesc::kNonGlobalPasid, .did = old.did, .pasid = pasid}.Encode(),
  };
  AppendDevTlb(e.did, pasid, 0, 0, &descs);
  return SubmitSync(descs);
}

absl::Status VtdDriver::ReplaceFirstStagePasid(StreamId rid_id, Pasid pasid_id, PhysAddr pgd,
                                               DomainId did, FirstStageOptions opts) {
  return InstallFirstStage(rid_id, pasid_id, pgd, did, opts, /*replace=*/true);
}

absl::Status VtdDriver::SetupPassThroughPasid(StreamId rid_id, Pasid pasid_id, DomainId did,
                                              bool replace) {
  if (!pass_through_supported()) {
    return absl::FailedPreconditionError("vtd: ECAP.PT is clear: no pass-through");
  }
  // pasid_pte_config_pass_through(): DID, AW, PGTT = pass-through, P.
  const PasidEntry pe{.p = true, .aw = 2, .pgtt = static_cast<uint8_t>(Pgtt::kPassThrough),
                      .did = static_cast<uint16_t>(did.value())};
  return InstallPasidEntry(static_cast<uint16_t>(rid_id.value()), pasid_id.value(), pe, replace);
}

}  // namespace svaemu::kernel::vtd
