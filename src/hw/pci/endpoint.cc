#include "svaemu/hw/pci/endpoint.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "svaemu/base/bits.h"
#include "svaemu/base/check.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::pci {

Endpoint::Endpoint(sim::Simulation& sim, mem::PhysMem& mem,
                   EndpointConfig config)
    : sim_(sim), mem_(mem), config_(config) {}

size_t Endpoint::pending() const {
  return static_cast<size_t>(std::count_if(
      records_.begin(), records_.end(),
      [](const DmaRecord& r) { return r.outcome == DmaOutcome::kPending; }));
}

uint64_t Endpoint::Write(std::optional<Pasid> pasid, VirtAddr addr,
                         std::span<const uint8_t> data, bool privileged) {
  return Issue(pasid, addr, /*write=*/true, privileged, {},
               std::vector<uint8_t>(data.begin(), data.end()));
}

uint64_t Endpoint::Read(std::optional<Pasid> pasid, VirtAddr addr,
                        std::span<uint8_t> out, bool privileged) {
  return Issue(pasid, addr, /*write=*/false, privileged, out, {});
}

uint64_t Endpoint::Issue(std::optional<Pasid> pasid, VirtAddr addr, bool write,
                         bool privileged, std::span<uint8_t> buf,
                         std::vector<uint8_t> wdata) {
  DmaRecord rec;
  rec.id = records_.size() + 1;
  rec.issue_time = sim_.now();
  rec.pasid = config_.pasid_bits > 0 ? pasid : std::nullopt;
  rec.addr = addr;
  rec.write = write;
  rec.privileged = privileged;
  const size_t len = write ? wdata.size() : buf.size();
  records_.push_back(rec);
  if (issue_observer_) issue_observer_(rec);
  // One DMA stays inside one page; a request that would cross is the
  // caller's bug, answered as an aborted DMA rather than a crash.
  if (len == 0 || addr.OffsetIn(kPageSize4K) + len > kPageSize4K ||
      iommu_ == nullptr) {
    records_.back().outcome = DmaOutcome::kAborted;
    records_.back().done_time = sim_.now();
    return rec.id;
  }
  Attempt(rec.id, buf, std::move(wdata), /*retried=*/false);
  return rec.id;
}

DmaRequest Endpoint::MakeRequest(const DmaRecord& rec) const {
  DmaRequest req;
  req.rid = config_.rid;
  req.has_pasid = rec.pasid.has_value();
  if (rec.pasid) req.pasid = *rec.pasid;
  req.addr = rec.addr;
  req.write = rec.write;
  req.priv = rec.privileged;
  return req;
}

const Endpoint::AtcEntry* Endpoint::AtcLookup(std::optional<Pasid> pasid,
                                              VirtAddr addr) const {
  for (const AtcEntry& e : atc_) {
    if (e.pasid == pasid && (addr.value() >> e.page_shift) == e.page) return &e;
  }
  return nullptr;
}

void Endpoint::Attempt(uint64_t id, std::span<uint8_t> buf,
                       std::vector<uint8_t> wdata, bool retried) {
  DmaRecord& rec = records_[id - 1];
  const DmaRequest req = MakeRequest(rec);
  if (!config_.ats) {
    // Untranslated request; a stall completes later, exactly once.
    DmaResult r = iommu_->Translate(
        req, [this, id, buf, wdata](const DmaResult& late) {
          SVAEMU_CHECK_MSG(records_[id - 1].outcome == DmaOutcome::kPending,
                           "IOMMU completed a stalled DMA twice");
          Complete(id, late, buf, wdata);
        });
    if (r.status != DmaStatus::kStalled) Complete(id, r, buf, wdata);
    return;
  }
  // ATS: device TLB first (PCIe 10.2: Translated requests bypass the IOMMU).
  if (const AtcEntry* e = AtcLookup(rec.pasid, rec.addr)) {
    if (!rec.write || e->write) {
      rec.via_atc = true;
      DmaResult r;
      r.status = DmaStatus::kTranslated;
      r.pa = e->pa + rec.addr.OffsetIn(1ull << e->page_shift);
      r.writable = e->write;
      Complete(id, r, buf, wdata);
      return;
    }
  }
  const AtsCompletion c = iommu_->AtsTranslate(req);
  const bool permitted =
      c.code == AtsCompletion::Code::kSuccess && (rec.write ? c.write : c.read);
  if (permitted) {
    if (atc_.size() >= config_.atc_entries && !atc_.empty()) {
      atc_.erase(atc_.begin());  // FIFO replacement
    }
    atc_.push_back(AtcEntry{rec.pasid, rec.addr.value() >> c.page_shift,
                            c.page_shift, c.pa, c.write});
    DmaResult r;
    r.status = DmaStatus::kTranslated;
    r.pa = c.pa + rec.addr.OffsetIn(1ull << c.page_shift);
    r.writable = c.write;
    Complete(id, r, buf, wdata);
    return;
  }
  // Not present (or not permitted): PRI once, else the access fails.
  // (UR and CA are errors: no page request.)
  if (config_.pri && !retried &&
      (c.code == AtsCompletion::Code::kSuccess || c.code == AtsCompletion::Code::kNotPresent)) {
    PageRequest pr;
    pr.rid = config_.rid;
    pr.has_pasid = rec.pasid.has_value();
    if (rec.pasid) pr.pasid = *rec.pasid;
    pr.addr = rec.addr.AlignDown(kPageSize4K);
    pr.read = !rec.write;
    pr.write = rec.write;
    pr.priv = rec.privileged;
    pr.last = true;  // one request per group
    pr.prgi = next_prgi_;
    next_prgi_ = (next_prgi_ + 1) & 0x1ff;  // 9-bit PRG index
    rec.page_requested = true;
    ++page_requests_sent_;
    parked_.push_back(Parked{id, pr.prgi, buf, std::move(wdata)});
    sim_.Trace("endpoint", "page_request",
               absl::StrCat(config_.index, " prgi=", pr.prgi));
    iommu_->SendPageRequest(pr);
    return;
  }
  DmaResult aborted;
  aborted.status = DmaStatus::kAborted;
  Complete(id, aborted, buf, wdata);
}

void Endpoint::Complete(uint64_t id, const DmaResult& r, std::span<uint8_t> buf,
                        const std::vector<uint8_t>& wdata) {
  DmaRecord& rec = records_[id - 1];
  rec.done_time = sim_.now();
  if (r.status != DmaStatus::kTranslated || (rec.write && !r.writable)) {
    rec.outcome = DmaOutcome::kAborted;
    sim_.Trace("endpoint", "dma_abort",
               absl::StrCat(config_.index, " ", Hex(rec.addr.value())));
    return;
  }
  rec.outcome = DmaOutcome::kDone;
  rec.pa = r.pa;
  mem::Access a;
  a.agent = Agent::Device(config_.index);
  a.purpose = rec.write ? Purpose::kDmaWrite : Purpose::kDmaRead;
  if (rec.write) {
    mem_.WriteBytes(r.pa, wdata, a);
  } else {
    mem_.ReadBytes(r.pa, buf, a);
  }
  if (observer_) {
    observer_(DmaAccess{config_.index, config_.rid, rec.pasid, rec.addr, r.pa,
                        rec.write});
  }
}

void Endpoint::ReceivePageResponse(const PageResponse& resp) {
  // Every parked access of that group is retried (success) or failed.
  std::vector<Parked> group;
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (it->prgi == resp.prgi) {
      group.push_back(std::move(*it));
      it = parked_.erase(it);
    } else {
      ++it;
    }
  }
  page_response_codes_.push_back(resp.code);
  sim_.Trace("endpoint", "page_response",
             absl::StrCat(config_.index, " prgi=", resp.prgi, " code=",
                          static_cast<int>(resp.code)));
  for (Parked& p : group) {
    if (resp.code == PageResponse::Code::kSuccess) {
      Attempt(p.id, p.buf, std::move(p.wdata), /*retried=*/true);
    } else {
      DmaResult aborted;
      aborted.status = DmaStatus::kAborted;
      Complete(p.id, aborted, p.buf, p.wdata);
    }
  }
}

bool Endpoint::ReceiveAtcInvalidation(const AtcInvalidation& inv) {
  if (!config_.answers_atc_invalidation) return false;
  ++atc_invalidations_;
  const uint64_t lo = inv.addr.value();
  const uint64_t hi = inv.size == 0 ? ~0ull : lo + inv.size - 1;
  std::erase_if(atc_, [&](const AtcEntry& e) {
    if (inv.has_pasid && e.pasid != std::optional<Pasid>(inv.pasid)) return false;
    if (inv.size == 0) return true;
    const uint64_t e_lo = e.page << e.page_shift;
    const uint64_t e_hi = e_lo + (1ull << e.page_shift) - 1;
    return e_lo <= hi && lo <= e_hi;
  });
  return true;
}

}  // namespace svaemu::hw::pci
