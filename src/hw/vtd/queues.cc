// Vtd invalidation queue (6.5.2) and page request queue (7.5).
#include "absl/strings/str_format.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd {
namespace {

uint64_t QueueBytes(uint64_t qa) { return 4096ull << Bits(qa, 2, 0); }

}  // namespace

// 6.5.2: hardware fetches from IQH while IQH != IQT, QIES=1 and neither IQE
// nor ITE is pending. Each descriptor is one simulation event; the next is
// executed after the modelled cost of this one, so a wait descriptor's
// status write never precedes the work queued ahead of it.
void Vtd::KickIq() {
  if (iq_event_ != sim::kNoEvent || ite_event_ != sim::kNoEvent) return;
  if (!Bit(regs_.Get(kGstsReg), Gcmd::kQie)) return;
  const uint64_t fsts = regs_.Get(kFstsReg);
  if (Bit(fsts, Fsts::kIqe) || Bit(fsts, Fsts::kIte)) return;
  const uint64_t iqa = regs_.Get(kIqaReg);
  const uint64_t tail = regs_.Get(kIqtReg);
  // 6.5.2.10 / 11.4.9.9 IQEI: a tail beyond the queue is an invalid tail
  // (1); with 256-bit descriptors a tail not 32-byte aligned is 6; 128-bit
  // descriptors while the active root table is scalable-mode are an
  // invalid descriptor width (5).
  if (tail >= QueueBytes(iqa)) {
    IqError(Iqercd::kInvalidTail);
    return;
  }
  if (Bit(iqa, Iqa::kDw) && Bit(tail, 4)) {
    IqError(Iqercd::kTailMisaligned);
    return;
  }
  if (!Bit(iqa, Iqa::kDw) && regs_.Get(kIqhReg) != tail &&
      ActiveTtm() == Rtaddr::kTtmScalable) {
    IqError(Iqercd::kInvalidWidth);
    return;
  }
  if (regs_.Get(kIqhReg) == tail && !iq_have_current_) return;
  iq_event_ = sim_.events().Schedule(sim_.cost().command, "vtd.iq", [this] { ProcessIq(); });
}

uint64_t Vtd::DescriptorCost(const RawDesc& d) const {
  const sim::CostModel& c = sim_.cost();
  switch (static_cast<DescType>(DescTypeOf(d[0]))) {
    case DescType::kWait: return c.command + c.invalidation_wait;
    case DescType::kDevTlb:
    case DescType::kPdevTlb: return c.command + config_.dev_tlb_latency;
    default: return c.command;
  }
}

void Vtd::ProcessIq() {
  iq_event_ = sim::kNoEvent;
  const uint64_t iqa = regs_.Get(kIqaReg);
  const uint64_t dsize = Bit(iqa, Iqa::kDw) ? 32 : 16;
  const uint64_t qbytes = QueueBytes(iqa);
  if (iq_have_current_) {
    bool error = false, stall = false;
    ExecuteDescriptor(iq_current_, &error, &stall);
    descriptors_->Inc();
    if (error || stall) {
      iq_have_current_ = false;  // refetched at IQH after IQE is cleared
      return;
    }
    iq_have_current_ = false;
    regs_.Set(kIqhReg, (regs_.Get(kIqhReg) + dsize) % qbytes);
  }
  const uint64_t fsts = regs_.Get(kFstsReg);
  if (!Bit(regs_.Get(kGstsReg), Gcmd::kQie) || Bit(fsts, Fsts::kIqe) || Bit(fsts, Fsts::kIte))
    return;
  const uint64_t head = regs_.Get(kIqhReg);
  if (head == regs_.Get(kIqtReg)) {
    iq_debt_ = 0;  // work of the last descriptor: nothing waits behind it
    return;
  }
  mem::Access a;
  a.agent = Agent::Iommu(config_.unit);
  a.purpose = Purpose::kQueueRead;
  const PhysAddr base(iqa & BitMask(63, 12));
  RawDesc d{};
  bool ok = true;
  for (uint64_t i = 0; i < dsize / 8; ++i) ok &= mem_.Read64(base + head + 8 * i, a, &d[i]);
  if (!ok) {
    IqError(Iqercd::kFetchError);
    return;
  }
  iq_current_ = d;
  iq_have_current_ = true;
  const uint64_t delay = DescriptorCost(d) + iq_debt_;
  iq_debt_ = 0;
  iq_event_ = sim_.events().Schedule(delay, "vtd.iq", [this] { ProcessIq(); });
}

// 6.5.2.10: an invalid descriptor sets IQE; IQH keeps pointing at it and
// the queue stops until software clears IQE.
void Vtd::IqError(uint64_t iqei) {
  uint64_t fsts = regs_.Get(kFstsReg);
  regs_.Set(kFstsReg, SetBit(fsts, Fsts::kIqe, true));
  regs_.Set(kIqercdReg, SetBits(regs_.Get(kIqercdReg), Iqercd::kIqeiHi, Iqercd::kIqeiLo, iqei));
  sim_.Trace("vtd", "iqe", absl::StrFormat("iqei=%d head=0x%x", iqei, regs_.Get(kIqhReg)));
  // 11.4.9.2: an event only if no status field was already set.
  if ((fsts & Fsts::kStatusMask) == 0) SignalEvent(kFectlReg, fault_irq_);
}

void Vtd::ExecuteDescriptor(const RawDesc& d, bool* error, bool* stall) {
  const uint8_t type = DescTypeOf(d[0]);
  const uint64_t lookup = sim_.cost().cache_lookup;
  auto bad = [&](uint64_t iqei) {
    IqError(iqei);
    *error = true;
  };
  switch (type) {
    case static_cast<uint8_t>(DescType::kContextCache): {
      ContextCacheDesc c;
      if (!ContextCacheDesc::Decode(d, &c)) return bad(Iqercd::kReservedField);
      InvalidateContext(c.g, c.sid, c.fm);
      return;
    }
    case static_cast<uint8_t>(DescType::kPasidCache): {
      PasidCacheDesc c;
      if (!PasidCacheDesc::Decode(d, &c)) return bad(Iqercd::kReservedField);
      InvalidatePasidCache(c.g, c.did, c.pasid);
      return;
    }
    case static_cast<uint8_t>(DescType::kIotlb): {
      IotlbDesc c;
      // 11.4.2 CAP.MAMV bounds the AM of this descriptor (second-stage
      // page-selective invalidation).
      if (!IotlbDesc::Decode(d, &c) || c.am > config_.mamv) return bad(Iqercd::kReservedField);
      const uint32_t n = InvalidateIotlbDomain(c.g == 1, c.did);
      iq_debt_ += n * lookup;
      return;
    }
    case static_cast<uint8_t>(DescType::kPiotlb): {
      PiotlbDesc c;
      // 11.4.2 CAP.MAMV: "independent of [MAMV], implementations supporting
      // SMTS must support [P_IOTLB] with any defined address mask".
      if (!PiotlbDesc::Decode(d, &c)) return bad(Iqercd::kReservedField);
      const uint32_t visited = InvalidatePiotlb(c.did, c.pasid, c.g == PiotlbDesc::kNonGlobalPasid,
                                                c.addr, c.am, c.ih);
      iq_debt_ += visited * lookup;
      sim_.Trace("vtd", "piotlb", absl::StrFormat("did=%d pasid=%d g=%d addr=0x%x am=%d ih=%d",
                                                  c.did, c.pasid, c.g, c.addr, c.am, c.ih));
      return;
    }
    case static_cast<uint8_t>(DescType::kDevTlb): {
      DevTlbDesc c;
      if (!config_.device_tlb) return bad(Iqercd::kInvalidType);
      if (!DevTlbDesc::Decode(d, &c)) return bad(Iqercd::kReservedField);
      uint64_t base, size;
      c.Range(&base, &size);
      pci::AtcInvalidation inv{.rid = StreamId(c.sid), .addr = VirtAddr(base), .size = size};
      return DevTlbInvalidate(c.sid, inv, stall);
    }
    case static_cast<uint8_t>(DescType::kPdevTlb): {
      PdevTlbDesc c;
      if (!config_.device_tlb) return bad(Iqercd::kInvalidType);
      if (!PdevTlbDesc::Decode(d, &c)) return bad(Iqercd::kReservedField);
      uint64_t base, size;
      c.Range(&base, &size);
      pci::AtcInvalidation inv{.rid = StreamId(c.sid), .has_pasid = !c.g,
                               .pasid = Pasid(c.pasid), .addr = VirtAddr(base), .size = size};
      return DevTlbInvalidate(c.sid, inv, stall);
    }
    case static_cast<uint8_t>(DescType::kWait): {
      WaitDesc w;
      if (!WaitDesc::Decode(d, &w)) return bad(Iqercd::kReservedField);
      // PD: page requests received before this descriptor are already in
      // the PRQ (they are written synchronously); FN: descriptors run in
      // order here, so the fence holds by construction.
      if (w.sw) {
        mem::Access a;
        a.agent = Agent::Iommu(config_.unit);
        a.purpose = Purpose::kQueueWrite;
        mem_.Write32(PhysAddr(w.status_addr), w.status_data, a);
      }
      if (w.iflag) {
        const uint64_t ics = regs_.Get(kIcsReg);
        regs_.Set(kIcsReg, SetBit(ics, kIcsIwc, true));
        if (!Bit(ics, kIcsIwc)) SignalEvent(kIectlReg, inv_irq_);  // 6.5.2.8
      }
      sim_.Trace("vtd", "wait",
                 absl::StrFormat("sw=%d if=%d fn=%d pd=%d", w.sw, w.iflag, w.fn, w.pd));
      return;
    }
    case static_cast<uint8_t>(DescType::kPageGroupResponse): {
      PageGroupResponseDesc r;
      if (!PageRequests(config_)) return bad(Iqercd::kInvalidType);
      if (!PageGroupResponseDesc::Decode(d, &r)) return bad(Iqercd::kReservedField);
      auto it = endpoints_.find(r.rid);
      page_responses_->Inc();
      if (it != endpoints_.end()) {
        pci::PageResponse resp{.rid = StreamId(r.rid), .has_pasid = r.pasid_present,
                               .pasid = Pasid(r.pasid), .prgi = r.prgi};
        resp.code = r.code == PageGroupResponseDesc::kSuccess ? pci::PageResponse::Code::kSuccess
                    : r.code == PageGroupResponseDesc::kInvalidRequest
                        ? pci::PageResponse::Code::kInvalidRequest
                        : pci::PageResponse::Code::kResponseFailure;
        it->second->ReceivePageResponse(resp);
      }
      return;
    }
    default:
      return bad(Iqercd::kInvalidType);  // includes IEC (no interrupt remapping)
  }
}

// 6.5.2.5 / 6.5.2.10: a device-TLB invalidation is sent to the endpoint;
// if it does not complete within dev_tlb_timeout, ITE.
void Vtd::DevTlbInvalidate(uint16_t sid, const pci::AtcInvalidation& inv, bool* stall) {
  auto it = endpoints_.find(sid);
  if (it != endpoints_.end() && it->second->ReceiveAtcInvalidation(inv)) return;
  *stall = true;
  const uint64_t wait = config_.dev_tlb_timeout > config_.dev_tlb_latency
                            ? config_.dev_tlb_timeout - config_.dev_tlb_latency
                            : 0;
  ite_event_ = sim_.events().Schedule(wait, "vtd.ite", [this, sid] { DevTlbTimeout(sid); });
}

// 6.5.2.10: ITE. The timed-out descriptor and every descriptor queued
// behind it (wait descriptors included: their status is never written)
// are discarded; IQH moves to IQT; processing resumes for descriptors
// queued after software clears ITE.
void Vtd::DevTlbTimeout(uint16_t sid) {
  ite_event_ = sim::kNoEvent;
  uint64_t fsts = regs_.Get(kFstsReg);
  regs_.Set(kFstsReg, SetBit(fsts, Fsts::kIte, true));
  regs_.Set(kIqercdReg, SetBits(regs_.Get(kIqercdReg), Iqercd::kItesidHi, Iqercd::kItesidLo, sid));
  regs_.Set(kIqhReg, regs_.Get(kIqtReg));
  iq_have_current_ = false;
  sim_.Trace("vtd", "ite", absl::StrFormat("sid=0x%04x", sid));
  // 11.4.9.2: an event only if no status field was already set.
  if ((fsts & Fsts::kStatusMask) == 0) SignalEvent(kFectlReg, fault_irq_);
}

// 7.4.1: a page request from the endpoint. The context entry must enable
// page requests (PRE) and, with a PASID, PASIDs (PASIDE); otherwise the
// fault is recorded and, for the last request of a group, hardware
// answers Invalid Request itself.
void Vtd::SendPageRequest(const pci::PageRequest& pr) {
  PageRequestDesc d;
  d.pasid_present = pr.has_pasid;
  d.rid = static_cast<uint16_t>(pr.rid.value());
  d.pasid = pr.pasid.value();
  d.exe = pr.exec;
  d.priv = pr.priv;
  d.rd = pr.read;
  d.wr = pr.write;
  d.lpig = pr.last;
  d.prgi = pr.prgi & 0x1ff;
  d.addr = pr.addr.value() & BitMask(63, 12);
  if (!PageRequests(config_) || !te()) {
    AutoRespond(d, PageGroupResponseDesc::kInvalidRequest);
    return;
  }
  uint32_t cycles = 0;
  bool fpd = false;
  FaultReason fr = RootTableModeFault(pr.has_pasid, /*page_request=*/true);
  const ContextData* ctx =
      fr == FaultReason::kNone ? FetchContext(d.rid, &cycles, &fr, &fpd) : nullptr;
  if (ctx != nullptr && !ctx->ce.pre) fr = FaultReason::kContextPreClear;              // SCT.8
  if (ctx != nullptr && pr.has_pasid && !ctx->ce.paside) fr = FaultReason::kContextPasidDisabled;
  if (fr != FaultReason::kNone) {
    const VtdRequest req{.sid = d.rid,
                         .has_pasid = pr.has_pasid,
                         .pasid = d.pasid,
                         .addr = d.addr,
                         .write = pr.write,
                         .exec = pr.exec,
                         .priv = pr.priv};
    RecordFault(FaultInfoOf(req, fr, fpd || (ctx != nullptr && ctx->ce.fpd)));
    AutoRespond(d, PageGroupResponseDesc::kInvalidRequest);
    return;
  }
  // 7.4.1: before the request is reported, hardware drops what it caches
  // for the page: a page-selective PASID-based invalidation (AM = 0) of the
  // PASID entry's domain, leaf and paging-structure entries alike (a
  // superset of what the spec requires is always allowed).
  if (ctx != nullptr) {
    bool pfpd = false;
    FaultReason pfr = FaultReason::kNone;
    if (const PasidData* pc =
            FetchPasid(d.rid, ctx->ce, pr.has_pasid, d.pasid, &cycles, &pfr, &pfpd);
        pc != nullptr && pc->pgtt == static_cast<uint8_t>(Pgtt::kFirstStage)) {
      InvalidatePiotlb(pc->did, pc->pasid, /*all=*/false, d.addr, /*am=*/0, /*ih=*/false);
    }
  }
  WritePageRequest(d);
}

// 7.5: write the descriptor at PQT. 7.5.1 overflow: when the queue is full
// (or PRO is already set) the request is dropped, PRO is set, and a
// request that ends its group (LPIG, or carries private data) is answered
// by hardware with Success, so the device retries later.
void Vtd::WritePageRequest(const PageRequestDesc& d) {
  const uint64_t pqa = regs_.Get(kPqaReg);
  const uint64_t size = QueueBytes(pqa);
  const uint64_t head = regs_.Get(kPqhReg) % size;
  const uint64_t tail = regs_.Get(kPqtReg) % size;
  uint64_t prs = regs_.Get(kPrsReg);
  if (Bit(prs, Prs::kPro) || (tail + kPageRequestDescSize) % size == head) {
    page_requests_lost_->Inc();
    if (!Bit(prs, Prs::kPro)) {
      regs_.Set(kPrsReg, SetBit(prs, Prs::kPro, true));
      // 7.5.2: no new event while PPR is still set.
      if (!Bit(prs, Prs::kPpr)) SignalEvent(kPectlReg, prq_irq_);
    }
    if (d.lpig || d.pdp) AutoRespond(d, PageGroupResponseDesc::kSuccess);
    return;
  }
  mem::Access a;
  a.agent = Agent::Iommu(config_.unit);
  a.purpose = Purpose::kQueueWrite;
  const RawDesc raw = d.Encode();
  const PhysAddr base(pqa & BitMask(63, 12));
  for (int i = 0; i < 4; ++i) mem_.Write64(base + tail + 8 * i, raw[i], a);
  regs_.Set(kPqtReg, (tail + kPageRequestDescSize) % size);
  page_requests_->Inc();
  sim_.Trace("vtd", "page_request", absl::StrFormat("rid=0x%04x pasid=%d addr=0x%x prgi=%d",
                                                    d.rid, d.pasid, d.addr, d.prgi));
  prs = regs_.Get(kPrsReg);
  if (!Bit(prs, Prs::kPpr)) {
    regs_.Set(kPrsReg, SetBit(prs, Prs::kPpr, true));
    SignalEvent(kPectlReg, prq_irq_);  // 7.5.2: event on PPR 0 -> 1
  }
}

void Vtd::AutoRespond(const PageRequestDesc& d, uint8_t code) {
  if (!d.lpig && !d.pdp) return;
  auto it = endpoints_.find(d.rid);
  if (it == endpoints_.end()) return;
  page_responses_->Inc();
  pci::PageResponse resp{.rid = StreamId(d.rid), .has_pasid = d.pasid_present,
                         .pasid = Pasid(d.pasid), .prgi = d.prgi};
  resp.code = code == PageGroupResponseDesc::kSuccess ? pci::PageResponse::Code::kSuccess
                                                      : pci::PageResponse::Code::kInvalidRequest;
  it->second->ReceivePageResponse(resp);
}

}  // namespace svaemu::hw::vtd
