// SmmuV3: construction, register file, interrupts, event and PRI queues,
// stalled transactions.
#include "svaemu/hw/smmuv3/smmuv3.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "svaemu/base/logging.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::smmuv3 {

absl::Status SmmuV3::ValidateConfig(const SmmuV3Config& c) {
  const auto geometry = [](const CacheGeometry& g, const char* name) -> absl::Status {
    if (g.sets == 0 || (g.sets & (g.sets - 1)) != 0 || g.sets > (1u << 20)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "smmuv3: ", name, ".sets must be a power of two in [1, 2^20], got ", g.sets));
    }
    if (g.ways == 0 || g.ways > 0xffff) {
      return absl::InvalidArgumentError(
          absl::StrCat("smmuv3: ", name, ".ways must be in [1, 65535], got ", g.ways));
    }
    return absl::OkStatus();
  };
  for (const auto& [g, name] : {std::pair{&c.cfg_cache, "cfg_cache"}, std::pair{&c.tlb, "tlb"},
                                std::pair{&c.walk_cache, "walk_cache"}}) {
    if (absl::Status s = geometry(*g, name); !s.ok()) return s;
  }
  // 6.3.2 IDR1: SIDSIZE at most 32, SSIDSIZE at most 20; CMDQS, EVTQS and
  // PRIQS at most 19.
  if (c.sid_bits > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("smmuv3: sid_bits must be at most 32, got ", c.sid_bits));
  }
  if (c.ssid_bits > 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("smmuv3: ssid_bits must be at most 20, got ", c.ssid_bits));
  }
  for (const auto& [v, name] : {std::pair{c.cmdq_log2_max, "cmdq_log2_max"},
                                std::pair{c.evtq_log2_max, "evtq_log2_max"},
                                std::pair{c.priq_log2_max, "priq_log2_max"}}) {
    if (v > 19) {
      return absl::InvalidArgumentError(
          absl::StrCat("smmuv3: ", name, " must be at most 19, got ", v));
    }
  }
  // 6.3.6 IDR5.OAS; the 4 KiB-granule stage-1 walk outputs at most 48 bits.
  switch (c.oas_bits) {
    case 32: case 36: case 40: case 42: case 44: case 48: break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "smmuv3: oas_bits must be 32, 36, 40, 42, 44 or 48, got ", c.oas_bits));
  }
  // 6.3.1 IDR0.HTTU 0b11 and STALL_MODEL 0b11 are reserved.
  if (c.httu > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("smmuv3: httu must be 0, 1 or 2, got ", c.httu));
  }
  if (static_cast<uint8_t>(c.stall_model) > 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "smmuv3: stall_model must be 0b00-0b10, got ", static_cast<int>(c.stall_model)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SmmuV3>> SmmuV3::Create(sim::Simulation& sim, mem::PhysMem& mem,
                                                       SmmuV3Config config) {
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  return std::unique_ptr<SmmuV3>(new SmmuV3(sim, mem, config));
}

SmmuV3::SmmuV3(sim::Simulation& sim, mem::PhysMem& mem, SmmuV3Config config)
    : sim_(sim),
      mem_(mem),
      config_(config),
      name_(absl::StrCat("smmu", config.unit)),
      agent_(Agent::Iommu(config.unit)),
      cache_lookup_cycles_(sim.cost().cache_lookup),
      mem_read_cycles_(sim.cost().mem_read),
      mem_write_cycles_(sim.cost().mem_write),
      evtq_irq_(sim, name_ + ".evtq"),
      priq_irq_(sim, name_ + ".priq"),
      cmd_sync_irq_(sim, name_ + ".cmd_sync"),
      gerror_irq_(sim, name_ + ".gerror"),
      combined_irq_(sim, name_ + ".combined") {
  // 6.3.1 IDR0: what this instance implements.
  uint64_t idr0 = 0;
  idr0 = idr0::kS1p.Set(idr0, 1);
  idr0 = idr0::kTtf.Set(idr0, 0b10);  // AArch64 tables only
  idr0 = idr0::kCohacc.Set(idr0, 1);
  idr0 = idr0::kHttu.Set(idr0, config_.httu);
  idr0 = idr0::kAts.Set(idr0, config_.ats);
  idr0 = idr0::kAsid16.Set(idr0, config_.asid16);
  idr0 = idr0::kMsi.Set(idr0, config_.msi);
  idr0 = idr0::kSev.Set(idr0, config_.sev);
  idr0 = idr0::kPri.Set(idr0, config_.pri);
  idr0 = idr0::kCd2l.Set(idr0, config_.cd2l);
  idr0 = idr0::kTtendian.Set(idr0, 0b10);  // little-endian only
  idr0 = idr0::kStallModel.Set(idr0, static_cast<uint64_t>(config_.stall_model));
  idr0 = idr0::kTermModel.Set(idr0, 1);    // terminations always abort
  idr0 = idr0::kStLevel.Set(idr0, config_.two_level_strtab ? 1 : 0);
  Reg(kIdr0) = idr0;
  // 6.3.2 IDR1.
  uint64_t idr1 = 0;
  idr1 = idr1::kSidsize.Set(idr1, config_.sid_bits);
  idr1 = idr1::kSsidsize.Set(idr1, config_.ssid_bits);
  idr1 = idr1::kPriqs.Set(idr1, config_.priq_log2_max);
  idr1 = idr1::kEvtqs.Set(idr1, config_.evtq_log2_max);
  idr1 = idr1::kCmdqs.Set(idr1, config_.cmdq_log2_max);
  idr1 = idr1::kAttrPermsOvr.Set(idr1, config_.attr_perms_ovr);
  Reg(kIdr1) = idr1;
  // 6.3.4 IDR3, what v3.2 requires of a stage-1-only SMMU: HAD
  // (CD.HAD0/HAD1 honoured), FWB (STE.S2FWB, IGNORED without stage 2), RIL
  // (range invalidation) and BBML 0b10 (3.21.1.3: the TLB never raises
  // F_TLB_CONFLICT, a lookup uses one entry, an invalidation removes every
  // match; nT is ignored). PPS: PRG responses keep the PASID, RES0 without
  // PRI or SubstreamIDs.
  uint64_t idr3 = idr3::kHad.Set(0, 1);
  idr3 = idr3::kFwb.Set(idr3, 1);
  idr3 = idr3::kRil.Set(idr3, 1);
  idr3 = idr3::kBbml.Set(idr3, 0b10);
  idr3 = idr3::kPps.Set(idr3, config_.pri && config_.ssid_bits > 0);
  Reg(kIdr3) = idr3;
  // 6.3.6 IDR5: 4 KiB granule only.
  uint64_t idr5 = idr5::kOas.Set(0, AddressSizeEncoding(config_.oas_bits));
  idr5 = idr5::kGran4k.Set(idr5, 1);
  idr5 = idr5::kStallMax.Set(idr5, kStallMax);
  Reg(kIdr5) = idr5;
  Reg(kIidr) = 0x43b;  // implementer: JEP106 code of Arm
  // 6.3.8 AIDR: SMMUv3.2.
  Reg(kAidr) = aidr::kArchMinorRev.Set(0, 2);

  cfg_.Init(config_.cfg_cache);
  tlb_.Init(config_.tlb);
  for (auto& w : walk_) w.Init(config_.walk_cache);
  sim::Stats& st = sim_.stats();
  cfg_stats_.Register(st, name_ + ".cfg_cache", "entries");
  tlb_stats_.Register(st, name_ + ".tlb", "entries");
  for (int i = 0; i < 3; ++i) {
    walk_stats_[i].Register(st, absl::StrCat(name_, ".walk_cache_l", 2 - i), "entries");
  }
  st.Bind(name_ + ".translate.cycles", "modelled latency of translations", "cycles",
          &translate_cycles_);
  st.Bind(name_ + ".walk.reads", "page-table entries read", "reads", &walk_reads_);
  events_recorded_ = st.Register(name_ + ".evtq.recorded", "event records written", "events");
  events_lost_ = st.Register(name_ + ".evtq.lost",
                             "event records discarded (queue full or disabled)", "events");
  commands_ = st.Register(name_ + ".cmdq.commands", "commands consumed", "commands");
  cmd_cycles_ = st.Register(name_ + ".cmdq.cycles", "modelled command processing time", "cycles");
  stalls_total_ = st.Register(name_ + ".stalls", "transactions stalled", "transactions");
  priq_lost_ = st.Register(name_ + ".priq.lost", "page requests discarded", "requests");
  sev_ = st.Register(name_ + ".cmdq.sev", "CMD_SYNC completions signalled by SEV", "events");
  cd_not_modelled_ = st.Register(name_ + ".cd_not_modelled",
                                 "legal CDs outside the model, rejected as C_BAD_CD", "cds");
}

SmmuV3::~SmmuV3() {
  sim_.stats().UnbindRange(this, this + 1);  // the translate path's tallies
  for (const auto& [key, stall] : stalls_) {
    Report(check::ViolationKind::kFaultNeverAnswered,
           absl::StrCat(name_, ": stalled transaction SID ", key >> 16, " STAG ",
                        key & 0xffff, " never resumed or terminated"));
  }
}

void SmmuV3::Report(check::ViolationKind kind, std::string text) {
  check::Violation v;
  v.kind = kind;
  v.time = sim_.now();
  v.agent = agent_;
  v.text = std::move(text);
  sim_.violations().Report(std::move(v));
}

absl::Status SmmuV3::AttachEndpoint(pci::EndpointPort* ep) {
  if (ep == nullptr) return absl::InvalidArgumentError("null endpoint");
  if (!endpoints_.emplace(ep->rid().value(), ep).second) {
    return absl::AlreadyExistsError(
        absl::StrCat(name_, ": an endpoint with StreamID ", ep->rid().value(),
                     " is already attached"));
  }
  return absl::OkStatus();
}

uint64_t SmmuV3::walk_cache_valid() const {
  uint64_t n = 0;
  for (const auto& w : walk_) n += w.CountValid();
  return n;
}

// --- Registers (6.2, 6.3) ---------------------------------------------------

uint64_t SmmuV3::MmioRead(uint64_t offset, unsigned size) {
  const int i = RegisterIndex(offset);
  if (i >= 0) {
    if (size != 4 && size != 8) return 0;
    // A 32-bit read of a 64-bit register returns its low half; a 64-bit read
    // of a 32-bit register is not decoded (RAZ).
    if (size > kRegisterTable[i].width) return 0;
    const uint64_t v = regs_[i];
    return size == 4 ? (v & 0xffffffffull) : v;
  }
  // Upper half of a 64-bit register read with a 32-bit access.
  if (size == 4 && offset >= 4) {
    const int lo = RegisterIndex(offset - 4);
    if (lo >= 0 && kRegisterTable[lo].width == 8) return regs_[lo] >> 32;
  }
  return 0;  // 6.2: reserved locations are RAZ/WI
}

void SmmuV3::MmioWrite(uint64_t offset, uint64_t value, unsigned size) {
  int i = RegisterIndex(offset);
  uint64_t merged;
  if (i >= 0) {
    if ((size != 4 && size != 8) || size > kRegisterTable[i].width) return;
    const uint64_t old = regs_[i];
    merged = size == 4 && kRegisterTable[i].width == 8
                 ? (old & ~0xffffffffull) | (value & 0xffffffffull)
                 : value;
  } else if (size == 4 && offset >= 4 && (i = RegisterIndex(offset - 4)) >= 0 &&
             kRegisterTable[i].width == 8) {
    merged = (regs_[i] & 0xffffffffull) | (value << 32);
  } else {
    return;  // RAZ/WI
  }
  const RegisterSpec& spec = kRegisterTable[i];
  if (spec.writable == 0) return;  // read-only
  const uint64_t old = regs_[i];
  regs_[i] = (old & ~spec.writable) | (merged & spec.writable);
  OnWrite(spec.offset, old);
}

void SmmuV3::OnWrite(uint64_t offset, uint64_t old) {
  uint64_t& v = Reg(offset);
  switch (offset) {
    case kCr0: {
      // 6.3.9/6.3.10: the update completes at once; CR0ACK follows CR0.
      Reg(kCr0Ack) = v;
      const bool was = cr0::kSmmuen.Get(old) != 0;
      enabled_ = cr0::kSmmuen.Get(v) != 0;
      // 3.12.2 (and 6.3.9.1): disabling the SMMU terminates every stalled
      // transaction.
      if (was && !enabled_) TerminateAllStalls();
      if (cr0::kEvtqen.Get(v) && !cr0::kEvtqen.Get(old)) FlushPendingStallRecords();
      if (cr0::kCmdqen.Get(v)) {
        KickCmdq();
      } else if (cmdq_event_ != sim::kNoEvent) {
        sim_.events().Cancel(cmdq_event_);
        cmdq_event_ = sim::kNoEvent;
      }
      break;
    }
    case kIrqCtrl:
      Reg(kIrqCtrlAck) = v;  // 6.3.17
      break;
    case kGbpa:
      // 6.3.14: a write without Update == 1 is IGNORED (the only behaviour
      // from v3.2); with it, the update completes at once and Update
      // reads 0 again.
      v = gbpa::kUpdate.Get(v) != 0 ? gbpa::kUpdate.Set(v, 0) : old;
      break;
    case kGerrorn:
      // 6.3.20: writing GERRORN acknowledges; a CMDQ_ERR acknowledged lets
      // command processing resume at CONS (4.7).
      if (cmdq_error_ && gerror::kCmdqErr.Get(Reg(kGerror) ^ v) == 0) {
        cmdq_error_ = false;
        KickCmdq();
      }
      break;
    case kStrtabBase:
    case kStrtabBaseCfg:
      if (cr0::kSmmuen.Get(Reg(kCr0))) v = old;  // not while enabled
      break;
    case kCmdqBase:
      if (Cr0(cr0::kCmdqen)) v = old;
      break;
    case kEvtqBase:
      if (Cr0(cr0::kEvtqen)) v = old;
      break;
    case kPriqBase:
      if (Cr0(cr0::kPriqen)) v = old;
      break;
    case kCmdqProd:
      KickCmdq();
      break;
    case kCmdqCons:
    case kEvtqProd:
    case kPriqProd: {
      // Software initialises these only while the queue is disabled.
      const Field en = offset == kCmdqCons ? cr0::kCmdqen
                       : offset == kEvtqProd ? cr0::kEvtqen : cr0::kPriqen;
      if (Cr0(en)) v = old;
      break;
    }
    case kEvtqCons:
      FlushPendingStallRecords();
      break;
    default:
      break;
  }
}

// --- Interrupts (3.18, 6.3.17, 6.3.21-23) -----------------------------------

void SmmuV3::SignalIrq(Irq which) {
  uint64_t cfg0 = 0, cfg1 = 0;
  bool enabled = true;
  sim::IrqLine* line = nullptr;
  const uint64_t ctrl = Reg(kIrqCtrl);
  switch (which) {
    case Irq::kEvtq:
      enabled = irq_ctrl::kEvtqIrqen.Get(ctrl);
      cfg0 = kEvtqIrqCfg0;
      cfg1 = kEvtqIrqCfg1;
      line = &evtq_irq_;
      break;
    case Irq::kPriq:
      enabled = irq_ctrl::kPriqIrqen.Get(ctrl);
      cfg0 = kPriqIrqCfg0;
      cfg1 = kPriqIrqCfg1;
      line = &priq_irq_;
      break;
    case Irq::kGerror:
      enabled = irq_ctrl::kGerrorIrqen.Get(ctrl);
      cfg0 = kGerrorIrqCfg0;
      cfg1 = kGerrorIrqCfg1;
      line = &gerror_irq_;
      break;
    case Irq::kCmdSync:
      line = &cmd_sync_irq_;
      break;
  }
  if (!enabled) return;
  if (config_.msi && cfg0 != 0) {
    const uint64_t addr = irq_cfg0::kAddr.Get(Reg(cfg0)) << 2;
    if (addr != 0) {
      mem::Access a;
      a.agent = agent_;
      a.purpose = Purpose::kQueueWrite;
      mem_.Write32(PhysAddr(addr), static_cast<uint32_t>(Reg(cfg1)), a);
    }
  }
  // The interrupt controller turns an MSI or a wired edge into the line.
  (config_.irq_wiring == IrqWiring::kCombined ? combined_irq_ : *line).Raise();
}

void SmmuV3::RaiseGerror(uint32_t bit) {
  // 6.3.19: an error is active while GERROR and GERRORN differ; a new error
  // of an active kind is not signalled again.
  if (((Reg(kGerror) ^ Reg(kGerrorn)) & bit) != 0) return;
  Reg(kGerror) ^= bit;
  SignalIrq(Irq::kGerror);
}

// --- Queues (3.5, 7.2, 7.4, 8.1) ------------------------------------------

SmmuV3::QueueView SmmuV3::View(uint64_t base_reg, uint8_t log2_max,
                               uint32_t entry_bytes) const {
  const uint64_t b = Reg(base_reg);
  QueueView q;
  // 6.3.26: LOG2SIZE above the IDR1 maximum is treated as the maximum.
  const uint64_t l = queue_base::kLog2size.Get(b);
  q.log2 = static_cast<uint32_t>(l > log2_max ? log2_max : l);
  q.base = PhysAddr(queue_base::kAddr.Get(b) << 5);
  q.entry_bytes = entry_bytes;
  return q;
}

SmmuV3::QWrite SmmuV3::WriteQueueEntry(const QueueView& q, uint64_t prod_reg,
                                       uint64_t cons_reg, const uint64_t* words,
                                       int n) {
  uint64_t& prod_r = Reg(prod_reg);
  const uint32_t prod = static_cast<uint32_t>(prod_r) & q.ptr_mask();
  const uint32_t cons = static_cast<uint32_t>(Reg(cons_reg)) & q.ptr_mask();
  if (q.Full(prod, cons)) return QWrite::kFull;
  mem::Access a;
  a.agent = agent_;
  a.purpose = Purpose::kQueueWrite;
  const PhysAddr slot = q.base + uint64_t{q.index(prod)} * q.entry_bytes;
  for (int i = 0; i < n; ++i) {
    if (!mem_.Write64(slot + 8ull * i, words[i], a)) return QWrite::kAbort;
  }
  prod_r = (prod_r & ~uint64_t{q.ptr_mask()}) | q.Next(prod);
  return QWrite::kOk;
}

void SmmuV3::RecordEvent(const Event& e) {
  // 7.4: with EVENTQEN == 0 records are discarded without overflow.
  if (!Cr0(cr0::kEvtqen)) {
    events_lost_->Inc();
    return;
  }
  // Stall records are never discarded and stay in order behind earlier ones.
  if (e.stall && !pending_stall_records_.empty()) {
    pending_stall_records_.push_back(e);
    return;
  }
  const EventRecord rec = EncodeEvent(e);
  const QueueView q = View(kEvtqBase, config_.evtq_log2_max, 32);
  switch (WriteQueueEntry(q, kEvtqProd, kEvtqCons, rec.dw, 4)) {
    case QWrite::kOk:
      events_recorded_->Inc();
      sim_.Trace(name_, "event", EventTypeName(e.type));
      SignalIrq(Irq::kEvtq);
      return;
    case QWrite::kFull:
      if (e.stall) {
        // 7.4: a stall record waits until the queue is next writable.
        pending_stall_records_.push_back(e);
        return;
      }
      events_lost_->Inc();
      // 7.4: toggle OVFLG unless an overflow condition is already present.
      if (queue_idx::kOvflg.Get(Reg(kEvtqProd)) ==
          queue_idx::kOvackflg.Get(Reg(kEvtqCons))) {
        Reg(kEvtqProd) ^= queue_idx::kOvflg.Mask();
        SignalIrq(Irq::kEvtq);
      }
      return;
    case QWrite::kAbort:
      // 6.3.19 EVENTQ_ABT_ERR: the queue write aborted.
      events_lost_->Inc();
      RaiseGerror(1u << gerror::kEvtqAbtErr.lo);
      return;
  }
}

void SmmuV3::FlushPendingStallRecords() {
  if (!Cr0(cr0::kEvtqen)) return;
  const QueueView q = View(kEvtqBase, config_.evtq_log2_max, 32);
  bool wrote = false;
  while (!pending_stall_records_.empty()) {
    const EventRecord rec = EncodeEvent(pending_stall_records_.front());
    const QWrite w = WriteQueueEntry(q, kEvtqProd, kEvtqCons, rec.dw, 4);
    if (w == QWrite::kFull) break;
    if (w == QWrite::kAbort) {
      RaiseGerror(1u << gerror::kEvtqAbtErr.lo);
      break;
    }
    events_recorded_->Inc();
    pending_stall_records_.pop_front();
    wrote = true;
  }
  if (wrote) SignalIrq(Irq::kEvtq);
}

void SmmuV3::SendPageRequest(const pci::PageRequest& pr) {
  PriEntry e;
  e.sid = pr.rid;
  e.ssv = pr.has_pasid;
  e.ssid = pr.pasid.value();
  e.priv = pr.priv;
  e.exec = pr.exec;
  e.read = pr.read;
  e.write = pr.write;
  e.last = pr.last;
  e.prgi = pr.prgi;
  e.addr = pr.addr.AlignDown(kPageSize4K);
  if (!config_.pri || !Cr0(cr0::kPriqen)) {
    // 8.2: with the PRI queue disabled, requests are discarded and a
    // Last request is answered automatically.
    priq_lost_->Inc();
    if (pr.last) AutoPrgResponse(pr);
    return;
  }
  // 8.1: an active overflow condition inhibits new entries.
  const bool overflow = queue_idx::kOvflg.Get(Reg(kPriqProd)) !=
                        queue_idx::kOvackflg.Get(Reg(kPriqCons));
  const PriRecord rec = EncodePri(e);
  const QueueView q = View(kPriqBase, config_.priq_log2_max, 16);
  const QWrite w = overflow ? QWrite::kFull
                            : WriteQueueEntry(q, kPriqProd, kPriqCons, rec.dw, 2);
  if (w == QWrite::kOk) {
    if (pr.last) open_prgs_[{e.sid.value(), e.ssv ? e.ssid : ~0u, e.prgi}] = true;
    SignalIrq(Irq::kPriq);
    return;
  }
  priq_lost_->Inc();
  if (w == QWrite::kAbort) {
    RaiseGerror(1u << gerror::kPriqAbtErr.lo);
  } else if (!overflow) {
    Reg(kPriqProd) ^= queue_idx::kOvflg.Mask();  // 8.1: enter overflow
    SignalIrq(Irq::kPriq);
  }
  // 8.1: Last == 1 gets an automatic PRG response; Last == 0 is ignored.
  if (pr.last) AutoPrgResponse(pr);
}

void SmmuV3::AutoPrgResponse(const pci::PageRequest& pr) {
  auto it = endpoints_.find(pr.rid.value());
  if (it == endpoints_.end()) return;
  // 8.1 with IDR3.PPS == 1: same PASID, ResponseCode Success.
  pci::PageResponse resp;
  resp.rid = pr.rid;
  resp.has_pasid = pr.has_pasid;
  resp.pasid = pr.pasid;
  resp.prgi = pr.prgi;
  resp.code = pci::PageResponse::Code::kSuccess;
  it->second->ReceivePageResponse(resp);
}

// --- Stalls (3.12.2, 4.7.1, 4.7.2) -----------------------------------------

void SmmuV3::Resume(StreamId sid, uint16_t stag, ResumeAction action) {
  const uint64_t key = (uint64_t{sid.value()} << 16) | stag;
  auto it = stalls_.find(key);
  if (it == stalls_.end()) {
    // 4.7.2: a RESUME that matches no stalled transaction has no effect.
    // For the checker it is a second answer if that STAG was answered.
    if (answered_stags_.contains(key)) {
      Report(check::ViolationKind::kFaultAnsweredTwice,
             absl::StrCat(name_, ": CMD_RESUME for SID ", sid.value(), " STAG ",
                          stag, " which was already resumed or terminated"));
    }
    return;
  }
  Stall s = std::move(it->second);
  stalls_.erase(it);
  answered_stags_[key] = true;
  sim_.Trace(name_, action == ResumeAction::kRetry ? "resume_retry" : "resume_abort");
  if (action != ResumeAction::kRetry) {
    if (s.done) s.done(pci::DmaResult{.status = pci::DmaStatus::kAborted});
    return;
  }
  // Retry: the transaction is translated again; it may stall again (with a
  // new STAG, keeping its completion) or complete now.
  const TransResult r = TranslateSlow(s.req, s.done ? &s.done : nullptr);
  if (r.status == TransStatus::kStalled) return;
  if (!s.done) return;
  pci::DmaResult d;
  d.status = r.status == TransStatus::kTranslated ? pci::DmaStatus::kTranslated
                                                   : pci::DmaStatus::kAborted;
  d.pa = r.pa;
  d.writable = r.writable;
  s.done(d);
}

void SmmuV3::TerminateAllStalls() {
  std::map<uint64_t, Stall> all = std::move(stalls_);
  stalls_.clear();
  for (auto& [key, s] : all) {
    answered_stags_[key] = true;
    if (s.done) s.done(pci::DmaResult{.status = pci::DmaStatus::kAborted});
  }
}

}  // namespace svaemu::hw::smmuv3
