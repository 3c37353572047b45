// Vtd: construction, the register file and its side effects, fault
// recording, and cache invalidation. Translation is in translate.cc, the
// invalidation and page request queues in queues.cc.
#include "svaemu/hw/vtd/vtd.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "svaemu/base/logging.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd {

namespace {

uint64_t CapValue(const VtdConfig& c) {
  uint64_t v = 0;
  v = SetBits(v, Cap::kNdHi, Cap::kNdLo, c.nd);                 // 11.4.2 ND
  v = SetBits(v, Cap::kSagawHi, Cap::kSagawLo, 0b00100);        // 48-bit AGAW
  v = SetBits(v, Cap::kMgawHi, Cap::kMgawLo, c.haw - 1);        // MGAW
  v = SetBits(v, Cap::kFroHi, Cap::kFroLo, kFrcdBase / 16);     // FRO
  v = SetBit(v, Cap::kPsi, true);                               // PSI
  v = SetBits(v, Cap::kNfrHi, Cap::kNfrLo, c.nfr - 1);          // NFR - 1
  v = SetBits(v, Cap::kMamvHi, Cap::kMamvLo, c.mamv);           // MAMV
  v = SetBit(v, Cap::kFl1gp, c.one_gig_pages);                  // FL1GP
  v = SetBit(v, Cap::kFl5lp, c.five_level);                     // FL5LP
  return v;
}

uint64_t EcapValue(const VtdConfig& c) {
  uint64_t v = 0;
  v = SetBit(v, Ecap::kC, true);                        // 11.4.3 coherent walks
  v = SetBit(v, Ecap::kQi, true);                       // queued invalidation
  v = SetBit(v, Ecap::kDt, c.device_tlb);               // device-TLB (ATS)
  v = SetBit(v, Ecap::kPt, c.pass_through);             // pass-through
  v = SetBits(v, Ecap::kIroHi, Ecap::kIroLo, kIvaReg / 16);
  // MHMV (handle mask) is valid only with interrupt remapping (IR = 0).
  v = SetBit(v, Ecap::kPrs, PageRequests(c));           // page requests (need DT)
  v = SetBit(v, Ecap::kErs, c.execute_requests);        // execute requests
  v = SetBit(v, Ecap::kSrs, c.supervisor_requests);     // supervisor requests
  v = SetBit(v, Ecap::kNwfs, c.nwfs);
  v = SetBits(v, Ecap::kPssHi, Ecap::kPssLo, c.pasid_bits - 1);
  v = SetBit(v, Ecap::kPasid, true);
  v = SetBit(v, Ecap::kPds, PageRequests(c));           // page-request drain
  v = SetBit(v, Ecap::kSmts, true);                     // scalable mode
  v = SetBit(v, Ecap::kFlts, true);                     // first-stage
  v = SetBit(v, Ecap::kSmpwcs, true);                   // walks (and A/D writes) coherent
  v = SetBit(v, Ecap::kRps, true);                      // RID_PASID
  v = SetBit(v, Ecap::kRprivs, c.supervisor_requests);  // RID_PRIV (needs SRS)
  return v;
}

constexpr uint64_t kImBit = 1ull << EventCtl::kIm;

}  // namespace

Vtd::Vtd(sim::Simulation& sim, mem::PhysMem& mem, VtdConfig config)
    : sim_(sim),
      mem_(mem),
      config_(config),
      prefix_(absl::StrCat("vtd", config.unit)),
      fault_irq_(sim, absl::StrCat("vtd", config.unit, ".fault")),
      inv_irq_(sim, absl::StrCat("vtd", config.unit, ".qi")),
      prq_irq_(sim, absl::StrCat("vtd", config.unit, ".prq")),
      lookup_cycles_(static_cast<uint32_t>(sim.cost().cache_lookup)),
      read_cycles_(static_cast<uint32_t>(sim.cost().mem_read)),
      write_cycles_(static_cast<uint32_t>(sim.cost().mem_write)),
      log_(GetLogger("vtd")) {}

Vtd::~Vtd() {
  sim_.events().Cancel(iq_event_);
  sim_.events().Cancel(ite_event_);
  sim_.stats().UnbindRange(this, this + 1);  // the translate path's tallies
}

absl::StatusOr<std::unique_ptr<Vtd>> Vtd::Create(sim::Simulation& sim,
                                                 mem::PhysMem& mem,
                                                 VtdConfig config) {
  // Each refusal names the field and the range of its register encoding.
  const auto out_of_range = [](absl::string_view field, unsigned got, absl::string_view want) {
    return absl::InvalidArgumentError(
        absl::StrCat("vtd: ", field, " must be ", want, ", got ", got));
  };
  if (config.nfr == 0) return out_of_range("nfr", config.nfr, "at least 1 (CAP.NFR)");
  if (config.pasid_bits == 0 || config.pasid_bits > 20) {
    return out_of_range("pasid_bits", config.pasid_bits, "in [1, 20] (ECAP.PSS)");
  }
  if (config.haw < 32 || config.haw > 52) {
    return out_of_range("haw", config.haw, "in [32, 52] (CAP.MGAW)");
  }
  if (config.nd > 6) return out_of_range("nd", config.nd, "at most 6 (CAP.ND)");
  if (config.mamv > 63) return out_of_range("mamv", config.mamv, "at most 63 (CAP.MAMV)");
  for (const auto& [g, name] :
       {std::pair{&config.context_cache, "context_cache"},
        std::pair{&config.pasid_cache, "pasid_cache"}, std::pair{&config.iotlb_4k, "iotlb_4k"},
        std::pair{&config.iotlb_2m, "iotlb_2m"}, std::pair{&config.iotlb_1g, "iotlb_1g"},
        std::pair{&config.pde_cache, "pde_cache"}, std::pair{&config.pdpe_cache, "pdpe_cache"},
        std::pair{&config.pml4e_cache, "pml4e_cache"},
        std::pair{&config.pml5e_cache, "pml5e_cache"}}) {
    if (!SetAssocCache<int>::ValidGeometry(*g)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vtd: ", name, " geometry needs entries = ways * 2^k with ways > 0, got ",
          g->entries, " entries, ", g->ways, " ways"));
    }
  }
  std::unique_ptr<Vtd> v(new Vtd(sim, mem, config));
  absl::Status s = v->Init();
  if (!s.ok()) return s;
  return v;
}

absl::Status Vtd::Init() {
  // 11.4: the register map as data.
  std::vector<RegSpec> specs = {
      {"VER", kVerReg, 4, 0x40},  // 4.0
      {"CAP", kCapReg, 8, CapValue(config_)},
      {"ECAP", kEcapReg, 8, EcapValue(config_)},
      {"GCMD", kGcmdReg, 4, 0, 0},  // write-only: side effects in OnGcmd
      {"GSTS", kGstsReg, 4},
      {"RTADDR", kRtaddrReg, 8, 0, BitMask(63, 10)},
      {"CCMD", kCcmdReg, 8, 0,
       BitMask(63, 61) | BitMask(Ccmd::kFmHi, Ccmd::kFmLo) | BitMask(31, 0)},
      {"FSTS", kFstsReg, 4, 0, 0, Fsts::kW1cMask},
      {"FECTL", kFectlReg, 4, kImBit, kImBit},
      {"FEDATA", kFedataReg, 4, 0, 0xffff},  // [31:16] RsvdZ: 16-bit data
      {"FEADDR", kFeaddrReg, 4, 0, 0xfffffffc},
      {"FEUADDR", kFeuaddrReg, 4, 0, 0xffffffff},
      {"IQH", kIqhReg, 8},
      {"IQT", kIqtReg, 8, 0, BitMask(18, 4)},
      {"IQA", kIqaReg, 8, 0, BitMask(63, 12) | (1ull << Iqa::kDw) | BitMask(2, 0)},
      {"ICS", kIcsReg, 4, 0, 0, 1ull << kIcsIwc},
      {"IECTL", kIectlReg, 4, kImBit, kImBit},
      {"IEDATA", kIedataReg, 4, 0, 0xffff},  // [31:16] RsvdZ: 16-bit data
      {"IEADDR", kIeaddrReg, 4, 0, 0xfffffffc},
      {"IEUADDR", kIeuaddrReg, 4, 0, 0xffffffff},
      {"IQERCD", kIqercdReg, 8},
      {"PQH", kPqhReg, 8, 0, BitMask(18, 5)},
      {"PQT", kPqtReg, 8, 0, BitMask(18, 5)},  // RW: software sets it up
      {"PQA", kPqaReg, 8, 0, BitMask(63, 12) | BitMask(2, 0)},
      {"PRS", kPrsReg, 4, 0, 0, (1ull << Prs::kPro) | (1ull << Prs::kPpr)},
      {"PECTL", kPectlReg, 4, kImBit, kImBit},
      {"PEDATA", kPedataReg, 4, 0, 0xffff},  // [31:16] RsvdZ: 16-bit data
      {"PEADDR", kPeaddrReg, 4, 0, 0xfffffffc},
      {"PEUADDR", kPeuaddrReg, 4, 0, 0xffffffff},
      {"IVA", kIvaReg, 8, 0, BitMask(63, 12) | BitMask(6, 0)},
      {"IOTLB", kIotlbReg, 8, 0, BitMask(63, 60) | BitMask(49, 48) | BitMask(47, 32)},
  };
  static const char* const kFrcdNames[2] = {"FRCD.lo", "FRCD.hi"};
  for (uint32_t i = 0; i < config_.nfr; ++i) {
    specs.push_back({kFrcdNames[0], kFrcdBase + 16 * i, 8});
    specs.push_back({kFrcdNames[1], kFrcdBase + 16 * i + 8, 8, 0, 0,
                     1ull << Frcd::kF});
  }
  if (kFrcdBase + 16 * config_.nfr > kIvaReg) {
    return absl::InvalidArgumentError("vtd: nfr too large for the register map");
  }
  absl::StatusOr<RegisterBank> bank = RegisterBank::Build(specs);
  if (!bank.ok()) return bank.status();
  regs_ = *std::move(bank);

  sim::Stats& st = sim_.stats();
  const uint64_t seed = config_.seed;
  context_cache_.Init(config_.context_cache, st, prefix_ + ".context_cache", seed);
  pasid_cache_.Init(config_.pasid_cache, st, prefix_ + ".pasid_cache", seed + 1);
  iotlb_[0].Init(config_.iotlb_4k, st, prefix_ + ".iotlb", seed + 2);
  // The three IOTLB arrays share one set of counters (one logical IOTLB).
  iotlb_[1].Init(config_.iotlb_2m, st, prefix_ + ".iotlb", seed + 3);
  iotlb_[2].Init(config_.iotlb_1g, st, prefix_ + ".iotlb", seed + 4);
  // Paging-structure caches of up to 256 lines keep no owner lists: an
  // invalidation scans them (cheaper than list upkeep on every fill).
  const auto track = [](const CacheGeometry& g) { return g.entries > 256; };
  psc_[0].Init(config_.pde_cache, st, prefix_ + ".pde_cache", seed + 5,
                track(config_.pde_cache));
  psc_[1].Init(config_.pdpe_cache, st, prefix_ + ".pdpe_cache", seed + 6,
                track(config_.pdpe_cache));
  psc_[2].Init(config_.pml4e_cache, st, prefix_ + ".pml4e_cache", seed + 7,
                track(config_.pml4e_cache));
  psc_[3].Init(config_.pml5e_cache, st, prefix_ + ".pml5e_cache", seed + 8,
                track(config_.pml5e_cache));

  st.Bind(prefix_ + ".translate.slow", "translations that left the inline path", "requests",
          &translations_);
  st.Bind(prefix_ + ".translate.cycles", "modelled translation latency", "cycles",
          &translate_cycles_);
  st.Bind(prefix_ + ".walks", "first-stage walks", "walks", &walks_);
  faults_recorded_ = st.Register(prefix_ + ".faults.recorded",
                                 "faults written to fault recording registers", "faults");
  faults_suppressed_ =
      st.Register(prefix_ + ".faults.suppressed", "faults suppressed by FPD", "faults");
  faults_lost_ = st.Register(prefix_ + ".faults.lost", "faults lost to overflow (PFO)", "faults");
  descriptors_ =
      st.Register(prefix_ + ".iq.descriptors", "invalidation descriptors processed", "descriptors");
  page_requests_ =
      st.Register(prefix_ + ".prq.requests", "page requests written to the PRQ", "requests");
  page_requests_lost_ =
      st.Register(prefix_ + ".prq.lost", "page requests dropped on overflow", "requests");
  page_responses_ =
      st.Register(prefix_ + ".prq.responses", "page group responses sent", "responses");
  interrupt_requests_ =
      st.Register(prefix_ + ".interrupt_requests",
                  "requests without PASID to the interrupt range (3.15)", "requests");
  fast_cycles_ = static_cast<uint32_t>(2 * sim_.cost().cache_lookup);
  return absl::OkStatus();
}

absl::Status Vtd::AttachEndpoint(pci::EndpointPort* ep) {
  if (ep == nullptr) return absl::InvalidArgumentError("null endpoint");
  const uint16_t sid = static_cast<uint16_t>(ep->rid().value());
  if (!endpoints_.emplace(sid, ep).second) {
    return absl::AlreadyExistsError(absl::StrFormat("requester 0x%04x already attached", sid));
  }
  return absl::OkStatus();
}

uint64_t Vtd::MmioRead(uint64_t offset, unsigned size) {
  if (offset >= kMmioSize) return 0;
  return regs_.GuestRead(static_cast<uint32_t>(offset), size);
}

void Vtd::MmioWrite(uint64_t offset, uint64_t value, unsigned size) {
  if (offset >= kMmioSize) return;
  const uint32_t off = static_cast<uint32_t>(offset);
  uint64_t old = 0;
  const int idx = regs_.GuestWrite(off, value, size, &old);
  if (idx < 0) return;  // reserved space: ignored
  const uint32_t reg = regs_.spec(idx).offset;
  const uint64_t now = regs_.Get(reg);
  switch (reg) {
    case kGcmdReg: OnGcmd(static_cast<uint32_t>(value)); break;
    case kCcmdReg:
      if (Bit(now, Ccmd::kIcc)) OnCcmd(now);
      break;
    case kIotlbReg:
      if (Bit(now, IotlbReg::kIvt)) OnIotlbReg(now);
      break;
    case kFstsReg: OnFstsWrite(); break;
    case kFectlReg: OnEventCtl(kFectlReg, fault_irq_); break;
    case kIectlReg: OnEventCtl(kIectlReg, inv_irq_); break;
    case kPectlReg: OnEventCtl(kPectlReg, prq_irq_); break;
    case kIqtReg: KickIq(); break;
    default:
      if (reg >= kFrcdBase && reg < kFrcdBase + 16u * config_.nfr) {
        // 7.2.1: PPF is the OR of the F fields.
        bool any = false;
        for (uint32_t i = 0; i < config_.nfr; ++i) {
          any |= Bit(regs_.Get(kFrcdBase + 16 * i + 8), Frcd::kF);
        }
        regs_.Set(kFstsReg, SetBit(regs_.Get(kFstsReg), Fsts::kPpf, any));
        OnFstsWrite();
      }
      break;
  }
}

// 11.4.4: GCMD bits are commands; GSTS reports their completion at once.
void Vtd::OnGcmd(uint32_t cmd) {
  uint64_t gsts = regs_.Get(kGstsReg);
  if (Bit(cmd, Gcmd::kSrtp)) {
    // 10.4.6 / 3.4: latch RTADDR. Caches are not invalidated (ESRTPS=0).
    active_rtaddr_ = regs_.Get(kRtaddrReg);
    gsts = SetBit(gsts, Gcmd::kSrtp, true);
  }
  if (Bit(cmd, Gcmd::kQie) != Bit(gsts, Gcmd::kQie)) {
    if (!Bit(cmd, Gcmd::kQie)) {
      // 11.4.9.1 IQH: reset to 0 whenever queued invalidation is disabled.
      regs_.Set(kIqhReg, 0);
    }
    gsts = SetBit(gsts, Gcmd::kQie, Bit(cmd, Gcmd::kQie));
  }
  if (Bit(gsts, Gcmd::kTe) && !Bit(cmd, Gcmd::kTe)) {
    // 11.4.4 GCMD.TE: with SMTS, disabling translation globally
    // invalidates every DMA-remapping cache.
    InvalidateAllCaches();
  }
  gsts = SetBit(gsts, Gcmd::kTe, Bit(cmd, Gcmd::kTe));
  gsts = SetBit(gsts, Gcmd::kWbf, false);  // RWBF=0: nothing to flush
  regs_.Set(kGstsReg, gsts);
  te_ = Bit(gsts, Gcmd::kTe);
  fast_ok_ = config_.fast_path && te_ &&
             ActiveTtm() == Rtaddr::kTtmScalable;
  sim_.Trace("vtd", "gcmd", absl::StrFormat("0x%08x", cmd));
  if (Bit(gsts, Gcmd::kQie)) KickIq();
}

// The translation-table mode of the active root table (RTADDR.TTM latched
// by SRTP).
uint64_t Vtd::ActiveTtm() const { return Bits(active_rtaddr_, Rtaddr::kTtmHi, Rtaddr::kTtmLo); }

bool Vtd::RegisterInvalidationRefused() const {
  return Bit(regs_.Get(kGstsReg), Gcmd::kQie) || ActiveTtm() != Rtaddr::kTtmLegacy;
}

// 11.4.7 / 6.5.1: register-based context-cache invalidation. Refused while
// QI is enabled, and whenever the active TTM is not legacy (11.4.7: the
// request is "treated as an incorrect invalidation request"): CAIG=0
// reports that it was not performed.
void Vtd::OnCcmd(uint64_t v) {
  uint64_t out = SetBit(v, Ccmd::kIcc, false);
  if (RegisterInvalidationRefused()) {
    out = SetBits(out, Ccmd::kCaigHi, Ccmd::kCaigLo, 0);
  } else {
    const uint8_t g = static_cast<uint8_t>(Bits(v, Ccmd::kCirgHi, Ccmd::kCirgLo));
    if (g == 0) {
      out = SetBits(out, Ccmd::kCaigHi, Ccmd::kCaigLo, 0);
    } else {
      InvalidateContext(g, static_cast<uint16_t>(Bits(v, Ccmd::kSidHi, Ccmd::kSidLo)),
                        static_cast<uint8_t>(Bits(v, Ccmd::kFmHi, Ccmd::kFmLo)));
      out = SetBits(out, Ccmd::kCaigHi, Ccmd::kCaigLo, g);
    }
  }
  regs_.Set(kCcmdReg, out);
}

// 11.4.8.1 / 6.5.1: register-based IOTLB invalidation; refused under QI,
// with a non-legacy active TTM (11.4.8.1) or an AM above MAMV (IAIG=0).
// Legacy-mode tables are not modelled, so what is performed caches no
// entry either: page-selective acts as domain-selective (a superset).
void Vtd::OnIotlbReg(uint64_t v) {
  uint64_t out = SetBit(v, IotlbReg::kIvt, false);
  const uint8_t g = static_cast<uint8_t>(Bits(v, IotlbReg::kIirgHi, IotlbReg::kIirgLo));
  const uint64_t am = Bits(regs_.Get(kIvaReg), IotlbReg::kIvaAmHi, IotlbReg::kIvaAmLo);
  if (RegisterInvalidationRefused() || g == 0 || (g == 3 && am > config_.mamv)) {
    out = SetBits(out, IotlbReg::kIaigHi, IotlbReg::kIaigLo, 0);
  } else {
    InvalidateIotlbDomain(g == 1,
                          static_cast<uint16_t>(Bits(v, IotlbReg::kDidHi, IotlbReg::kDidLo)));
    out = SetBits(out, IotlbReg::kIaigHi, IotlbReg::kIaigLo, g);
  }
  regs_.Set(kIotlbReg, out);
}

void Vtd::OnFstsWrite() {
  const uint64_t fsts = regs_.Get(kFstsReg);
  const uint64_t status = fsts & Fsts::kStatusMask;
  if (status == 0) {
    // 7.3: IP clears once software has serviced every condition.
    regs_.Set(kFectlReg, SetBit(regs_.Get(kFectlReg), EventCtl::kIp, false));
  }
  // 6.5.2.10: processing resumes when IQE and ITE are clear.
  if (!Bit(fsts, Fsts::kIqe) && !Bit(fsts, Fsts::kIte)) KickIq();
}

// 7.3 (and 7.4.1, 7.5.2): an event while IM=1 sets IP; clearing IM with IP
// set delivers it.
void Vtd::SignalEvent(uint32_t ctl_reg, sim::IrqLine& line) {
  const uint64_t ctl = regs_.Get(ctl_reg);
  if (Bit(ctl, EventCtl::kIm)) {
    regs_.Set(ctl_reg, SetBit(ctl, EventCtl::kIp, true));
    return;
  }
  line.Raise();
}

void Vtd::OnEventCtl(uint32_t ctl_reg, sim::IrqLine& line) {
  const uint64_t ctl = regs_.Get(ctl_reg);
  if (!Bit(ctl, EventCtl::kIm) && Bit(ctl, EventCtl::kIp)) {
    regs_.Set(ctl_reg, SetBit(ctl, EventCtl::kIp, false));
    line.Raise();
  }
}

// 7.2.1 primary fault logging.
bool Vtd::RecordFault(const FaultInfo& in) {
  FaultInfo f = in;
  f.time = sim_.now();
  f.suppressed = in.suppressed && QualifiedFault(in.reason);  // 7.1.1
  if (f.suppressed) {
    faults_suppressed_->Inc();
    fault_log_.push_back(f);
    return false;
  }
  const uint32_t idx = fri_next_;
  const uint32_t hi_off = kFrcdBase + 16 * idx + 8;
  uint64_t fsts = regs_.Get(kFstsReg);
  // 11.4.9.1 FSTS.PFO: while it is set no new fault is recorded. The next
  // register still holding an unserviced fault is an overflow: PFO is set
  // (it is not an interrupt condition of 11.4.9.2).
  if (Bit(fsts, Fsts::kPfo) || Bit(regs_.Get(hi_off), Frcd::kF)) {
    f.lost = true;
    faults_lost_->Inc();
    fault_log_.push_back(f);
    regs_.Set(kFstsReg, SetBit(fsts, Fsts::kPfo, true));
    return true;
  }
  uint64_t hi = 0;
  hi = SetBits(hi, Frcd::kSidHi, Frcd::kSidLo, f.sid);
  hi = SetBit(hi, Frcd::kPriv, f.priv && f.has_pasid);
  hi = SetBit(hi, Frcd::kExe, f.exec && f.has_pasid);
  hi = SetBit(hi, Frcd::kPp, f.has_pasid);
  hi = SetBits(hi, Frcd::kFrHi, Frcd::kFrLo, static_cast<uint8_t>(f.reason));
  hi = SetBits(hi, Frcd::kPvHi, Frcd::kPvLo, f.has_pasid ? f.pasid : 0);
  hi = SetBit(hi, Frcd::kT, !f.write);
  hi = SetBit(hi, Frcd::kF, true);
  regs_.Set(kFrcdBase + 16 * idx, f.addr & BitMask(63, 12));
  regs_.Set(hi_off, hi);
  fri_next_ = static_cast<uint8_t>((idx + 1) % config_.nfr);
  faults_recorded_->Inc();
  fault_log_.push_back(f);
  if (!Bit(fsts, Fsts::kPpf)) {
    fsts = SetBits(fsts, Fsts::kFriHi, Fsts::kFriLo, idx);
    regs_.Set(kFstsReg, SetBit(fsts, Fsts::kPpf, true));
    // 11.4.9.2: an event only if no status field was already set.
    if ((fsts & Fsts::kStatusMask) == 0) SignalEvent(kFectlReg, fault_irq_);
  }
  if (log_->should_log(spdlog::level::debug)) {
    log_->debug("{}: fault 0x{:02x} ({}) sid 0x{:04x} addr 0x{:x}", prefix_,
                static_cast<int>(f.reason), FaultReasonName(f.reason), f.sid, f.addr);
  }
  return true;
}

// 6.5.2.1: context-cache invalidation. Scalable-mode context entries carry
// no DID, so domain-selective invalidation drops every entry (a superset is
// always allowed).
void Vtd::InvalidateContext(uint8_t g, uint16_t sid, uint8_t fm) {
  if (g == 3) {
    // Device-selective; FM masks the function number from its top bit
    // down: 01 bit 2 of the SID, 10 bits 2:1, 11 bits 2:0.
    const unsigned n = std::min<unsigned>(fm, 3);
    const uint16_t mask = static_cast<uint16_t>(~(((1u << n) - 1) << (3 - n)));
    context_cache_.InvalidateIf([&](uint64_t tag, uint64_t, const ContextData&) {
      return ((static_cast<uint16_t>(tag >> 1) ^ sid) & mask) == 0;
    });
  } else {
    context_cache_.InvalidateAll();
  }
}

// 6.5.2.2: PASID-cache invalidation. G=0 domain-selective, 1
// PASID-selective within the domain, 3 global.
void Vtd::InvalidatePasidCache(uint8_t g, uint16_t did, uint32_t pasid) {
  pasid_cache_.InvalidateIf([&](uint64_t, uint64_t, const PasidData& d) {
    if (g == 3) return true;
    if (d.did != did) return false;
    return g == 0 || d.pasid == pasid;
  });
}

// 6.5.2.4: PASID-based IOTLB invalidation. Non-globals-within-PASID (all):
// every non-global IOTLB entry of (DID, PASID) and every paging-structure
// cache entry of it. Page-selective: entries overlapping
// [addr, addr + 2^(12+AM)); IH=0 also drops paging-structure entries
// whose coverage overlaps the range, IH=1 leaves them. Visits only the
// lines of (DID, PASID). Returns the lines visited.
uint32_t Vtd::InvalidatePiotlb(uint16_t did, uint32_t pasid, bool all,
                               uint64_t addr, uint8_t am, bool ih) {
  const uint64_t owner = OwnerOf(did, pasid);
  const uint64_t size = am >= 52 ? ~0ull : (4096ull << am);
  const uint64_t base = addr & ~(size - 1);
  // Inclusive ends: ranges may touch the top of the 64-bit space.
  auto overlaps = [&](uint64_t start, uint64_t len) {
    return start <= base + (size - 1) && base <= start + (len - 1);
  };
  uint32_t visited = 0;
  static constexpr unsigned kIotlbShift[3] = {12, 21, 30};
  for (int i = 0; i < 3; ++i) {
    const unsigned sh = kIotlbShift[i];
    visited += iotlb_[i].InvalidateOwner(owner, [&](uint64_t tag, const IotlbData& d) {
      if (all) return !d.global;
      return overlaps((tag >> 1) << sh, 1ull << sh);
    }, nullptr);
  }
  if (all || !ih) {
    for (int i = 0; i < 4; ++i) {
      const unsigned sh = 12 + 9 * (i + 2);  // bytes below one entry's coverage
      visited += psc_[i].InvalidateOwner(owner, [&](uint64_t tag, const PscData&) {
        if (all) return true;
        const uint64_t start = sh >= 64 ? 0 : ((tag >> 1) << (sh - 9));
        return overlaps(start, 1ull << (sh - 9));
      }, nullptr);
    }
  }
  return visited;
}

// 6.5.2.3: IOTLB invalidation (descriptor or register). Global: every
// IOTLB and paging-structure cache entry. Domain-selective: those of DID,
// every PASID. Page-selective names second-stage entries in its range and
// invalidates every first-stage (PGTT=001b) entry of the domain: the model
// caches first-stage entries only, so it is domain-selective here.
uint32_t Vtd::InvalidateIotlbDomain(bool global, uint16_t did) {
  uint32_t n = 0;
  for (int i = 0; i < 3; ++i) {
    n += iotlb_[i].InvalidateIf(
        [&](uint64_t, uint64_t owner, const IotlbData&) { return global || (owner >> 20) == did; });
  }
  for (int i = 0; i < 4; ++i) {
    n += psc_[i].InvalidateIf([&](uint64_t, uint64_t owner, const PscData&) {
      return global || (owner >> 20) == did;
    });
  }
  return n;
}

void Vtd::InvalidateAllCaches() {
  context_cache_.InvalidateAll();
  InvalidatePasidCache(3, 0, 0);
  InvalidateIotlbDomain(/*global=*/true, 0);
}

Vtd::CacheSizes Vtd::cache_sizes() const {
  return {context_cache_.valid(), pasid_cache_.valid(),
          iotlb_[0].valid() + iotlb_[1].valid() + iotlb_[2].valid(),
          psc_[0].valid(), psc_[1].valid(), psc_[2].valid(), psc_[3].valid()};
}

uint32_t Vtd::CachedLinesOf(uint16_t did, uint32_t pasid) const {
  const uint64_t owner = OwnerOf(did, pasid);
  uint32_t n = 0;
  for (const auto& c : iotlb_) n += c.CountOwner(owner);
  for (const auto& c : psc_) n += c.CountOwner(owner);
  return n;
}

}  // namespace svaemu::hw::vtd
