// SmmuV3: a model of an Arm SMMUv3 (IHI 0070) for stage-1 translation of
// PCIe/platform DMA, with the event queue, stalls and PRI.
//
// What it does
//   - Register file of chapter 6 (regs.h), reached only through MmioDevice.
//   - Stream table linear and 2-level (5.1, 5.2), CD tables linear and
//     2-level (5.3, 5.4); STE/CD validity with C_BAD_STREAMID, C_BAD_STE,
//     C_BAD_SUBSTREAMID, C_BAD_CD, F_STE_FETCH, F_CD_FETCH,
//     F_STREAM_DISABLED (7.3).
//   - Stage-1 translation with the arm64 walker (4 KiB granule, 48-bit VA):
//     TTB0/TTB1 by VA[63:48], EPD0/EPD1, permissions, AF, HTTU (HA/HD),
//     IPS/OAS; F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION,
//     F_WALK_EABT (7.3.12-7.3.16).
//   - Caches: configuration (STE+CD), TLB by ASID, walk cache per level
//     (caches.h), with statistics "<unit>.<cache>.*".
//   - Command queue (chapter 4): CFGI_*, TLBI_NH_*, TLBI_NSNH_ALL, ATC_INV,
//     PRI_RESP, RESUME, STALL_TERM, SYNC (IRQ / MSI write / SEV), CERROR_ILL,
//     CERROR_ABT and CERROR_ATC_INV_SYNC with GERROR.CMDQ_ERR (4.7, 6.3.19).
//     One command per simulation event, each charging modelled cycles.
//   - Event queue (7.2, 7.4): overflow toggles PROD.OVFLG, lost records are
//     counted; stall records are never lost and wait for space.
//   - Stalls (3.12.2): with CD.S (and STALL_MODEL permitting) a
//     translation-related fault holds the transaction; its event has
//     Stall = 1 and a STAG; CMD_RESUME retries or terminates it, CMD_STALL_TERM
//     terminates every held transaction of a StreamID, SMMUEN 1->0 terminates
//     all. Each held transaction completes exactly once.
//   - PRI queue (chapter 8) with overflow and automatic PRG responses (8.1),
//     ATS translation requests (3.9) and ATC invalidation.
//   - Interrupts: event queue, PRI queue, CMD_SYNC, GERROR lines, or one
//     combined line (IrqWiring); MSI writes when IDR0.MSI and *_IRQ_CFG0 set.
//
// Not modelled (absent from the ID registers): stage 2 and nested
// translation (IDR0.S2P = 0), AArch32 tables (TTF = AArch64), 16/64 KiB
// granules (IDR5.GRAN16K/64K = 0), CD.T0SZ/T1SZ other than 16 (rejected as
// C_BAD_CD, counted in "<unit>.cd_not_modelled"), big-endian tables, Secure
// and Realm state, ATOS, VATOS, ECMDQ, MPAM, PBHA, BTM, E2H/EL2 StreamWorld,
// PREFETCH_* (accepted, no effect), event merging, memory attributes
// (CD.IR0/OR0/SH0, MAIR, STE.S1CIR... carried, not interpreted), CD.A = 0
// RAZ/WI responses (a terminated transaction is always an abort to the
// endpoint), Stop PASID markers, EPAN, the memory-type overrides
// (IDR1.ATTR_TYPES_OVR = 0), CR2.REC_CFG_ATS, the R/W/X/PRIV and Span
// fields of F_BAD_ATS_TREQ (left 0: docs/smmuv3.md).
//
// Concurrency: thread-compatible. Translate() does not advance the clock:
// it returns its modelled latency and adds it to "<unit>.translate.cycles".
//
// Example:
//   auto smmu = *hw::smmuv3::SmmuV3::Create(sim, mem, {.unit = 0});
//   driver.Probe(smmu);          // MMIO only
//   endpoint.Connect(&smmu);
#ifndef SVAEMU_HW_SMMUV3_SMMUV3_H_
#define SVAEMU_HW_SMMUV3_SMMUV3_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/arch/walk.h"
#include "svaemu/check/violation.h"
#include "svaemu/hw/mmio.h"
#include "svaemu/hw/pci/dma.h"
#include "svaemu/hw/smmuv3/caches.h"
#include "svaemu/hw/smmuv3/commands.h"
#include "svaemu/hw/smmuv3/events.h"
#include "svaemu/hw/smmuv3/regs.h"
#include "svaemu/hw/smmuv3/tables.h"
#include "svaemu/sim/clock.h"
#include "svaemu/sim/irq.h"

namespace svaemu::mem {
class PhysMem;
}
namespace svaemu::sim {
class Simulation;
}

namespace svaemu::hw::smmuv3 {

enum class IrqWiring : uint8_t {
  kSeparate,  // one line per source (evtq, priq, cmd-sync, gerror)
  kCombined,  // every source raises the combined line only
};

// Model-specific latencies (cycles), beyond sim::CostModel.
struct SmmuV3Latencies {
  sim::Cycles atc_inv = 2'000;    // one ATC invalidation round trip to an EP
  sim::Cycles resume = 100;       // re-issuing a stalled transaction
};

struct SmmuV3Config {
  uint16_t unit = 0;  // Agent::Iommu(unit), statistics prefix "smmu<unit>"
  // IDR0/IDR1/IDR5 as configured.
  uint8_t sid_bits = 16;   // IDR1.SIDSIZE
  uint8_t ssid_bits = 20;  // IDR1.SSIDSIZE
  bool two_level_strtab = true;  // IDR0.ST_LEVEL
  bool cd2l = true;              // IDR0.CD2L
  bool ats = true;
  bool pri = true;
  bool msi = true;
  bool sev = true;
  bool asid16 = true;
  uint8_t httu = 0b10;  // IDR0.HTTU: 0 none, 1 AF, 2 AF + dirty
  bool attr_perms_ovr = true;  // IDR1.ATTR_PERMS_OVR: STE.PRIVCFG/INSTCFG
  StallModel stall_model = StallModel::kStallAndTerminate;
  uint8_t oas_bits = 48;
  uint8_t cmdq_log2_max = 8;  // IDR1.CMDQS
  uint8_t evtq_log2_max = 7;  // IDR1.EVTQS
  uint8_t priq_log2_max = 7;  // IDR1.PRIQS
  IrqWiring irq_wiring = IrqWiring::kSeparate;
  CacheGeometry cfg_cache{.sets = 16, .ways = 4};
  CacheGeometry tlb{.sets = 256, .ways = 4};
  CacheGeometry walk_cache{.sets = 16, .ways = 4};  // per level (L0..L2)
  SmmuV3Latencies latency;
  // The inline TLB-hit check and the common-miss path behind it
  // (TranslateTlbMiss). Off: every request takes the general path
  // (TranslateSlow), with the same results, latencies, events, cache
  // contents and counters. For differential tests and for bisecting a
  // suspected fast-path bug; not a hardware feature.
  bool fast_path = true;
};

// The direct (non-virtual) translation interface.
struct TransReq {
  StreamId sid;
  bool ssv = false;
  uint32_t ssid = 0;
  VirtAddr va;
  bool write = false;
  bool exec = false;
  bool priv = false;
  // Set by the model only (callers leave it empty): VA[63:56] as the
  // request gave them, when the CD's TBI (3.4.1) had `va` translated with
  // them replaced by copies of VA[55]. Event records report the address
  // as given (7.3: "TBI does not affect the InputAddr field").
  std::optional<uint8_t> tbi_tag;
};

enum class TransStatus : uint8_t { kTranslated, kAborted, kStalled };

// Two words of addresses/time, then the small fields packed in a third, so
// the hit path returns it without partial-store forwarding stalls.
struct TransResult {
  PhysAddr pa;
  sim::Cycles latency = 0;
  TransStatus status = TransStatus::kAborted;
  bool writable = false;
  std::optional<EventType> fault;  // the event (recorded or not)
  uint16_t stag = 0;               // with kStalled
};

class SmmuV3 final : public MmioDevice, public pci::IommuPort {
 public:
  // IDR5.STALL_MAX: transactions held at once; a fault beyond it is
  // terminated instead of stalled.
  static constexpr uint16_t kStallMax = 512;

  // Builds the model after ValidateConfig(): the only way to build one, so
  // that a configuration the model cannot implement is a Status, never a
  // crash (as Vtd::Create).
  static absl::StatusOr<std::unique_ptr<SmmuV3>> Create(sim::Simulation& sim,
                                                        mem::PhysMem& mem,
                                                        SmmuV3Config config = {});
  // InvalidArgument, naming the field, for a configuration the model cannot
  // implement: a cache geometry without power-of-two sets or with 0 or more
  // than 65,535 ways; SIDSIZE > 32 or SSIDSIZE > 20 (6.3.2); an output
  // address size IDR5.OAS cannot encode or above 48 bits (52-bit OA needs
  // the 64 KiB granule or LPA2, not modelled); queue sizes above 19 (6.3.2);
  // HTTU 0b11 (reserved, 6.3.1); a StallModel other than 0b00-0b10.
  static absl::Status ValidateConfig(const SmmuV3Config& config);
  // Reports every still-held stalled transaction as kFaultNeverAnswered.
  ~SmmuV3() override;
  SmmuV3(const SmmuV3&) = delete;
  SmmuV3& operator=(const SmmuV3&) = delete;

  // MmioDevice.
  uint64_t MmioRead(uint64_t offset, unsigned size) override;
  void MmioWrite(uint64_t offset, uint64_t value, unsigned size) override;

  // Endpoints behind this SMMU, by StreamID (for PRG responses and ATC
  // invalidation). AlreadyExists for a second endpoint with that StreamID.
  absl::Status AttachEndpoint(pci::EndpointPort* ep);

  // IommuPort.
  pci::DmaResult Translate(const pci::DmaRequest& req,
                           pci::DmaCompletion on_complete) override;
  pci::AtsCompletion AtsTranslate(const pci::DmaRequest& req) override;
  void SendPageRequest(const pci::PageRequest& pr) override;

  // The fast path: a TLB hit is answered inline, a TLB miss of the last
  // used configuration goes to TranslateTlbMiss, everything else (and
  // everything with SmmuV3Config::fast_path off) to the slow path. A
  // stalled request from here has no completion callback (it is still held
  // and answered exactly once by RESUME/STALL_TERM).
  inline TransResult Translate(const TransReq& r);

  // An ATS-Translated transaction (the endpoint's ATC hit): checked with
  // CR0.ATSCHK (F_TRANSL_FORBIDDEN, 7.3.8, whose record carries the
  // address and RnW). True if it may proceed.
  bool CheckTranslated(StreamId sid, PhysAddr addr, bool write);

  // Interrupt outputs (constructed with the simulation).
  sim::IrqLine& evtq_irq() { return evtq_irq_; }
  sim::IrqLine& priq_irq() { return priq_irq_; }
  sim::IrqLine& cmd_sync_irq() { return cmd_sync_irq_; }
  sim::IrqLine& gerror_irq() { return gerror_irq_; }
  sim::IrqLine& combined_irq() { return combined_irq_; }

  // Introspection for tests and benchmarks.
  const SmmuV3Config& config() const { return config_; }
  const std::string& name() const { return name_; }
  size_t stalled() const { return stalls_.size(); }
  uint64_t events_lost() const { return events_lost_->value(); }
  uint64_t sev_count() const { return sev_->value(); }
  size_t pending_stall_records() const { return pending_stall_records_.size(); }
  bool cmdq_busy() const { return cmdq_event_ != sim::kNoEvent; }
  uint64_t tlb_valid() const { return tlb_.CountValid(); }
  uint64_t walk_cache_valid() const;
  uint64_t cfg_valid() const { return cfg_.CountValid(); }

 private:
  // `config` has passed ValidateConfig (Create).
  SmmuV3(sim::Simulation& sim, mem::PhysMem& mem, SmmuV3Config config);
  struct Stall {
    TransReq req;
    pci::DmaCompletion done;  // may be empty (direct interface)
  };
  // A queue as its *_BASE register describes it (3.5): entries of
  // `entry_bytes` at `base`; PROD/CONS hold an index of log2 bits and the
  // wrap bit above it.
  struct QueueView {
    PhysAddr base;
    uint32_t log2 = 0;
    uint32_t entry_bytes = 0;
    uint32_t wrap() const { return 1u << log2; }
    uint32_t ptr_mask() const { return (2u << log2) - 1; }
    uint32_t index(uint32_t p) const { return p & (wrap() - 1); }
    bool Empty(uint32_t prod, uint32_t cons) const {
      return ((prod ^ cons) & ptr_mask()) == 0;
    }
    bool Full(uint32_t prod, uint32_t cons) const {
      return ((prod ^ cons) & ptr_mask()) == wrap();
    }
    uint32_t Next(uint32_t p) const { return (p + 1) & ptr_mask(); }
  };
  enum class QWrite { kOk, kFull, kAbort };

  TransResult TranslateSlow(const TransReq& r, pci::DmaCompletion* done);
  // The fast path's miss: `c` (the last used configuration entry) matched
  // and is kTranslate, the VA is canonical, and the TLB does not hold the
  // request's tag. Counts and charges exactly what TranslateSlow() would,
  // without repeating the configuration and TLB lookups. `ttag` and
  // `tset`: the request's TLB tag and set, as the inline check computed
  // them (the fill reuses them).
  [[gnu::noinline]] TransResult TranslateTlbMiss(const CfgEntry& c,
                                                 const TransReq& r, uint64_t ttag,
                                                 CacheSet tset);
  // Resolves the configuration of a request (cache or fetch). On a
  // configuration error records the event and returns nullptr with
  // *fault set.
  // `record`: record configuration events (ATS translation requests do
  // not, 3.9.1.2).
  const CfgEntry* LookupConfig(const TransReq& r, TransResult* res,
                               bool record = true);
  const CfgEntry* FetchConfig(const TransReq& r, TransResult* res,
                              bool record);
  const CfgEntry* ConfigError(const TransReq& r, TransResult* res,
                              EventType type, PhysAddr fetch, bool record);
  // What a walk read, by level, and where it started (translate.cc).
  struct WalkRecorder;
  // Which walk caches a miss has probed before FindStart (the common miss
  // probes the L2 walk cache itself, TranslateTlbMiss; a caller that found
  // its start goes straight to WalkFromStart).
  enum class Probed {
    kNone,    // none: FindStart probes levels 2, 3, 4
    kL2Miss,  // the L2 walk cache missed (counted; its tag in the recorder)
  };
  // The walk caches below those probed for the request whose TlbTag() is
  // `ttag` (each lookup's latency is added to *latency); sets the
  // recorder's start (translate.cc).
  template <Probed kProbed>
  void FindStart(const CfgEntry& c, uint64_t ttag, bool upper, sim::Cycles* latency,
                 WalkRecorder* rec);
  // The walk from the recorder's start. As PreparedWalker::WalkTranslated:
  // true with the translation in *t, false with the fault in *w.
  bool WalkFromStart(const CfgEntry& c, const TransReq& r, bool try_plain, WalkRecorder* rec,
                     arch::FastTranslation* t, arch::WalkResult* w);
  // The checks before a walk, FindStart<kNone>, WalkFromStart. `ttag`: the
  // request's TlbTag().
  bool WalkCore(const CfgEntry& c, const TransReq& r, uint64_t ttag, sim::Cycles* latency,
                WalkRecorder* rec, arch::FastTranslation* t, arch::WalkResult* w);
  // What a TLB fill knows of its set: kAbsent, the tag is not there (the
  // fast path's probe missed it, and nothing filled the set since), so the
  // fill takes a slot without probing again; kUnknown, it may be (a probe
  // found it with fewer rights than the access needs, or no probe was made:
  // ATS), so the fill probes.
  enum class TlbProbe { kAbsent, kUnknown };
  // Counts and charges the walk's `reads` and `ad_updates`, fills the walk
  // caches of the levels in (last, first] (the recorder's start and last
  // level: a caller may pass them as constants) and (if `ok`) the TLB with
  // `t` at `ttag` in `tset` (TlbTag() and its set; `probe`: as FillTlb),
  // and names the last entry read (for F_WALK_EABT). No fault handling.
  void AfterWalk(const CfgEntry& c, const TransReq& r, bool ok, const arch::FastTranslation& t,
                 uint32_t reads, uint32_t ad_updates, const WalkRecorder& rec, unsigned first,
                 unsigned last, uint64_t ttag, CacheSet tset, TlbProbe probe, sim::Cycles* latency,
                 PhysAddr* last_entry_pa);
  // AfterWalk, "translate.cycles", then the translation or the fault.
  TransResult AfterWalkResult(const CfgEntry& c, const TransReq& r, bool ok,
                              const arch::FastTranslation& t, const arch::WalkResult& w,
                              const WalkRecorder& rec, uint64_t ttag, CacheSet tset, TlbProbe probe,
                              sim::Cycles latency, pci::DmaCompletion* done);
  // The TLB fill of a translation `t` of `va` at `ttag` in `tset`, after a
  // probe that found what `probe` says.
  void FillTlb(const CfgEntry& c, uint64_t va, const arch::FastTranslation& t, uint64_t ttag,
               CacheSet tset, TlbProbe probe);
  // TLB lookup (canonical VAs), then WalkMiss().
  TransResult Walk(const CfgEntry& c, const TransReq& r, sim::Cycles latency,
                   pci::DmaCompletion* done);
  // An ATS Success completion to Translation Request `tr`, translated as
  // `eff` (after the STE's overrides), for rights `perms_index`
  // (PermsIndex bits) of the leaf at `page` (13.7.1).
  pci::AtsCompletion AtsGrant(const CfgEntry& c, const TransReq& tr, const TransReq& eff,
                              uint32_t perms_index, uint64_t page, uint8_t page_shift) const;
  // After a TLB miss: WalkCore(), then AfterWalkResult(). `ttag`, `tset`,
  // `probe`: as AfterWalk.
  TransResult WalkMiss(const CfgEntry& c, const TransReq& r, uint64_t ttag, CacheSet tset,
                       TlbProbe probe, sim::Cycles latency, pci::DmaCompletion* done);
  // TranslateTlbMiss's out-of-line continuations: the L2 walk cache missed
  // with tag `l2_tag` in `l2_set` (the other walk caches, the walk, its fills; a walk
  // of plain reads is finished there), and a walk that is more than plain
  // reads from the start in *rec (`latency`: the lookups so far).
  [[gnu::noinline]] TransResult MissBelowL2(const CfgEntry& c, const TransReq& r,
                                            uint64_t ttag, CacheSet tset, uint64_t l2_tag,
                                            CacheSet l2_set);
  [[gnu::noinline]] TransResult MissFromStart(const CfgEntry& c, const TransReq& r,
                                              uint64_t ttag, CacheSet tset, WalkRecorder* rec,
                                              sim::Cycles latency);
  TransResult Fault(const CfgEntry* c, const TransReq& r, TransResult res,
                    EventType type, PhysAddr fetch_addr,
                    pci::DmaCompletion* done);
  void Resume(StreamId sid, uint16_t stag, ResumeAction action);
  void TerminateAllStalls();

  // Event queue (7.2, 7.4).
  void RecordEvent(const Event& e);
  QueueView View(uint64_t base_reg, uint8_t log2_max, uint32_t entry_bytes) const;
  QWrite WriteQueueEntry(const QueueView& q, uint64_t prod_reg,
                         uint64_t cons_reg, const uint64_t* words, int n);
  void FlushPendingStallRecords();
  // PRI queue (8).
  void AutoPrgResponse(const pci::PageRequest& pr);

  // Command queue (4).
  void KickCmdq();
  void ScheduleCmdq(sim::Cycles delay);
  void ProcessCommand();
  void AdvanceCmdqCons();
  void CompleteSync(const DecodedCommand& d);
  void CommandError(CmdError err);
  sim::Cycles Execute(const DecodedCommand& d);
  uint64_t InvalidateVa(const DecodedCommand& d, bool any_asid);
  void Report(check::ViolationKind kind, std::string text);

  // Interrupts.
  enum class Irq { kEvtq, kPriq, kCmdSync, kGerror };
  void SignalIrq(Irq which);
  void RaiseGerror(uint32_t bit);

  // Registers.
  uint64_t& Reg(uint64_t offset) { return regs_[RegisterIndex(offset)]; }
  uint64_t Reg(uint64_t offset) const { return regs_[RegisterIndex(offset)]; }
  bool Cr0(Field f) const { return f.Get(Reg(kCr0)) != 0; }
  void OnWrite(uint64_t offset, uint64_t old_value);

  sim::Simulation& sim_;
  mem::PhysMem& mem_;
  SmmuV3Config config_;
  std::string name_;
  Agent agent_;

  sim::Cycles cache_lookup_cycles_;
  sim::Cycles mem_read_cycles_;   // sim.cost().mem_read (fixed at construction)
  sim::Cycles mem_write_cycles_;  // sim.cost().mem_write
  std::array<uint64_t, kRegisterTable.size()> regs_{};
  bool enabled_ = false;  // CR0.SMMUEN (checked by the fast path)
  bool cmdq_error_ = false;
  bool atc_timeout_ = false;
  sim::EventId cmdq_event_ = sim::kNoEvent;

  SetAssocCache<CfgEntry> cfg_;
  // The configuration entry used last (the fast path tries it first; its
  // tag is compared, so an evicted or invalidated entry never matches).
  const CfgEntry* last_cfg_ = &kNoCfg;
  static inline const CfgEntry kNoCfg{};
  SetAssocCache<TlbEntry> tlb_;
  std::array<SetAssocCache<WalkEntry>, 3> walk_;  // levels 2, 3, 4
  CacheCounters cfg_stats_, tlb_stats_;
  std::array<CacheCounters, 3> walk_stats_;
  // The translate path's counts, kept here like the caches' (one add
  // each); bound in the constructor, unbound by the destructor.
  sim::Tally translate_cycles_;
  sim::Tally walk_reads_;
  sim::Counter* events_recorded_;
  sim::Counter* events_lost_;
  sim::Counter* commands_;
  sim::Counter* cmd_cycles_;
  sim::Counter* stalls_total_;
  sim::Counter* priq_lost_;
  sim::Counter* sev_;
  sim::Counter* cd_not_modelled_;

  // Held transactions, keyed by (StreamID << 16 | STAG); std::map for a
  // deterministic STALL_TERM order.
  std::map<uint64_t, Stall> stalls_;
  std::map<uint64_t, bool> answered_stags_;  // answered, not reused yet
  uint16_t next_stag_ = 0;
  std::deque<Event> pending_stall_records_;
  // Outstanding PRGs (StreamID, SSID, PRGI) awaiting CMD_PRI_RESP.
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, bool> open_prgs_;
  std::map<uint32_t, pci::EndpointPort*> endpoints_;

  sim::IrqLine evtq_irq_, priq_irq_, cmd_sync_irq_, gerror_irq_, combined_irq_;
};

inline TransResult SmmuV3::Translate(const TransReq& r) {
  const uint64_t va = r.va.value();
  const uint64_t ctag = CfgTag(r.sid.value(), r.ssv, r.ssid);
  const CfgEntry* c = last_cfg_;
  if (enabled_ && c->tag == ctag && c->kind == CfgEntry::kTranslate &&
      Canonical48(va)) [[likely]] {
    const uint64_t ttag = TlbTag(c->asid, va);
    const CacheSet tset = tlb_.SetFor(TlbHash(ttag));
    // The tag first (a miss tests only tags), then whether the access
    // needs nothing special.
    if (const TlbEntry* e = tlb_.Find(tset, ttag)) {
      if ((AccessBit(r.write, r.exec, r.priv) & ~e->ok) == 0) [[likely]] {
        cfg_stats_.hits.Inc();
        tlb_stats_.hits.Inc();
        const sim::Cycles lat = 2 * cache_lookup_cycles_;
        translate_cycles_.Inc(lat);
        return TransResult{.pa = PhysAddr(e->pa | (va & 0xfff)),
                           .latency = lat,
                           .status = TransStatus::kTranslated,
                           .writable = (e->ok & AccessBit(true, false, r.priv)) != 0};
      }
      // Cached, but the access needs more (a permission fault, a first
      // write with HTTU): the general path, which walks and refills.
      return TranslateSlow(r, nullptr);
    }
    return TranslateTlbMiss(*c, r, ttag, tset);
  }
  return TranslateSlow(r, nullptr);
}

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_HW_SMMUV3_SMMUV3_H_
