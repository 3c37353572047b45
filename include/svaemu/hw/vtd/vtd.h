// Vtd: an Intel VT-d remapping unit in scalable mode, first-stage
// translation, with its caches, invalidation queue and page request queue.
//
// Specification: Intel Virtualization Technology for Directed I/O,
// Architecture Specification, rev. 4.x. Sections are cited beside each rule
// in the sources; the structures are in tables.h, descriptors in
// descriptors.h, registers in regs.h.
//
// What it does:
//   - register file (11.4) built from a table; GCMD/GSTS (TE, SRTP, QIE),
//     RTADDR (TTM = scalable), register-based CCMD/IOTLB invalidation
//     (refused while QI is enabled), FSTS/FECTL, NFR fault recording
//     registers with PFO/PPF/FRI (7.2), IQ and PRQ registers;
//   - translation of requests with and without PASID through the
//     scalable-mode root/context/PASID-directory/PASID tables (3.4.3, 9.x),
//     first-stage (x86-64 4/5-level) or pass-through (3.6, 3.9);
//   - caches (6.2): context cache, PASID cache, IOTLB (4 KiB/2 MiB/1 GiB
//     arrays, tagged DID+PASID+page), and the first-stage paging-structure
//     caches PML5E/PML4E/PDPE/PDE (6.2.4.2), used to skip levels;
//   - invalidation queue (6.5.2) with 128/256-bit descriptors, IQE/ITE,
//     invalidation wait (status write, IF, FN, PD), page group responses;
//   - page request queue (7.5): descriptors, PPR, PRO, overflow
//     auto-response;
//   - interrupt outputs: fault event, invalidation completion, page request.
//
// Not modelled (absent from CAP/ECAP): legacy (non-scalable) mode (TTM = 00
// faults 0x30-0x32) and abort-DMA mode (ADMS = 0), second stage and nested
// translation (ECAP.SLTS=NEST=0; PGTT 2/3 fault as invalid), interrupt
// remapping and posted interrupts (IR = 0; requests without PASID to the
// interrupt range are counted, not delivered), caching mode (CM=0),
// advanced fault logging, protected memory regions, extended accessed flag
// (EAFS=0: EAFE is reserved), snoop/memory-type control (PWSNP/PGSNP are
// carried, not interpreted), the VT-d SMEP-like supervisor-execute rule,
// performance monitoring, virtual command registers, SIOV/scalable IOV,
// page-request private data beyond carrying it, ATS "no write" flag
// semantics beyond ECAP.NWFS. Memory ordering of the write buffer (RWBF=0).
//
// Thread-safety: thread-compatible; the cache layout is ready for the
// seqlock scheme described in cache.h.
#ifndef SVAEMU_HW_VTD_VTD_H_
#define SVAEMU_HW_VTD_VTD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/arch/x86_64.h"
#include "svaemu/hw/mmio.h"
#include "svaemu/hw/pci/dma.h"
#include "svaemu/hw/vtd/cache.h"
#include "svaemu/hw/vtd/descriptors.h"
#include "svaemu/hw/vtd/regs.h"
#include "svaemu/hw/vtd/tables.h"
#include "svaemu/sim/irq.h"

namespace spdlog {
class logger;
}
namespace svaemu::mem {
class PhysMem;
}
namespace svaemu::sim {
class Simulation;
}

namespace svaemu::hw::vtd {

struct VtdConfig {
  uint16_t unit = 0;            // Agent::Iommu(unit), stats prefix "vtd<unit>"
  uint8_t nd = 2;               // CAP.ND: 2^(4+2*ND) domain IDs
  uint8_t haw = 46;             // host address width (MGAW = haw)
  bool five_level = true;       // CAP.FL5LP
  bool one_gig_pages = true;    // CAP.FL1GP
  uint8_t pasid_bits = 20;      // ECAP.PSS + 1
  bool device_tlb = true;       // ECAP.DT (ATS)
  bool page_requests = true;    // ECAP.PRS (with device_tlb: PageRequests())
  bool supervisor_requests = true;  // ECAP.SRS
  bool execute_requests = true;     // ECAP.ERS
  bool nwfs = false;            // ECAP.NWFS
  bool pass_through = true;     // ECAP.PT
  uint8_t nfr = 8;              // number of fault recording registers (1-256)
  uint8_t mamv = 18;            // CAP.MAMV: largest address mask (2^18 pages)

  CacheGeometry context_cache{.entries = 64, .ways = 4};
  CacheGeometry pasid_cache{.entries = 256, .ways = 4};
  CacheGeometry iotlb_4k{.entries = 1024, .ways = 8};
  CacheGeometry iotlb_2m{.entries = 64, .ways = 4};
  CacheGeometry iotlb_1g{.entries = 16, .ways = 4};
  CacheGeometry pde_cache{.entries = 64, .ways = 4};
  CacheGeometry pdpe_cache{.entries = 32, .ways = 4};
  CacheGeometry pml4e_cache{.entries = 16, .ways = 4};
  CacheGeometry pml5e_cache{.entries = 8, .ways = 4};

  // Spec 6.2.4: entries fetched successfully may be cached even when the
  // translation then faults (e.g. a U/S fault at the leaf).
  bool fill_psc_on_fault = true;

  // The inline IOTLB-hit check and the common-miss path behind it
  // (TranslateMiss). Off: every request takes the general path
  // (TranslateSlow), with the same results, faults, cache contents and
  // cache counters; only the context-cache lookups and the modelled
  // latency of the translations that would have hit the inline check
  // differ. For differential tests and for bisecting a suspected fast-path
  // bug; not a hardware feature.
  bool fast_path = true;

  // Model-specific latencies (cycles), beyond sim::CostModel.
  uint64_t dev_tlb_latency = 2'000;     // ATS invalidation round trip
  uint64_t dev_tlb_timeout = 100'000;   // no answer by then: ITE
  uint64_t seed = 1;                    // random replacement
};

// Whether `c` supports page requests: ECAP.PRS (and PDS) are advertised
// only with the device TLB, since a page request comes from an ATS
// endpoint (PCIe PRI needs ATS); without DT they read 0 and page requests
// are answered as by hardware without PRS.
constexpr bool PageRequests(const VtdConfig& c) { return c.page_requests && c.device_tlb; }

// A request as the remapping hardware sees it (3.4).
struct VtdRequest {
  uint16_t sid = 0;        // source-id (bus/dev/fn)
  bool has_pasid = false;
  uint32_t pasid = 0;
  uint64_t addr = 0;
  bool write = false;
  bool exec = false;
  bool priv = false;
};

struct VtdResult {
  bool ok = false;
  FaultReason fault = FaultReason::kNone;
  bool recorded = false;   // fault written to a fault recording register
  PhysAddr pa;
  uint8_t page_shift = 12;
  bool writable = false;
  uint32_t cycles = 0;     // modelled latency of this translation
};

// A fault as recorded (also kept, suppressed or not, in fault_log()).
struct FaultInfo {
  FaultReason reason = FaultReason::kNone;
  uint16_t sid = 0;
  bool has_pasid = false;
  uint32_t pasid = 0;
  uint64_t addr = 0;
  bool write = false, exec = false, priv = false;
  bool suppressed = false;  // FPD (given: an FPD was seen; logged: it applied, 7.1.1)
  bool lost = false;        // fault recording overflow (PFO)
  uint64_t time = 0;
};

class Vtd : public MmioDevice, public pci::IommuPort {
 public:
  static absl::StatusOr<std::unique_ptr<Vtd>> Create(sim::Simulation& sim,
                                                     mem::PhysMem& mem,
                                                     VtdConfig config = {});
  ~Vtd() override;
  Vtd(const Vtd&) = delete;
  Vtd& operator=(const Vtd&) = delete;

  // MmioDevice.
  uint64_t MmioRead(uint64_t offset, unsigned size) override;
  void MmioWrite(uint64_t offset, uint64_t value, unsigned size) override;

  // The translation entry point (non-virtual). The IOTLB hit check is
  // inline: one PASID-cache probe and one IOTLB probe whose "deny" masks
  // also say "nothing special to do". Does not advance the clock.
  inline VtdResult Translate(const VtdRequest& r);

  // pci::IommuPort.
  pci::DmaResult Translate(const pci::DmaRequest& req,
                           pci::DmaCompletion on_complete) override;
  pci::AtsCompletion AtsTranslate(const pci::DmaRequest& req) override;
  void SendPageRequest(const pci::PageRequest& pr) override;

  // Endpoints behind this unit (device-TLB invalidations, page responses).
  // AlreadyExists if the requester ID is taken.
  absl::Status AttachEndpoint(pci::EndpointPort* ep);

  sim::IrqLine& fault_irq() { return fault_irq_; }
  sim::IrqLine& inv_irq() { return inv_irq_; }
  sim::IrqLine& prq_irq() { return prq_irq_; }

  const VtdConfig& config() const { return config_; }
  const std::vector<FaultInfo>& fault_log() const { return fault_log_; }
  // Cache occupancy, for tests and benchmarks.
  struct CacheSizes {
    uint32_t context, pasid, iotlb, pde, pdpe, pml4e, pml5e;
  };
  CacheSizes cache_sizes() const;
  // Lines of (did, pasid) in the IOTLB and paging-structure caches.
  uint32_t CachedLinesOf(uint16_t did, uint32_t pasid) const;
  bool iq_busy() const { return iq_event_ != sim::kNoEvent; }
  std::string stats_prefix() const { return prefix_; }

 private:
  Vtd(sim::Simulation& sim, mem::PhysMem& mem, VtdConfig config);
  absl::Status Init();

  // Request classification bits (need) and entry deny masks.
  static constexpr uint8_t kNeedWrite = 1, kNeedUser = 2, kNeedExec = 4,
                           kNeedPriv = 8, kAlways = 16;
  static uint8_t NeedOf(const VtdRequest& r) {
    return static_cast<uint8_t>(kAlways | (r.write ? kNeedWrite : 0) |
                                (r.priv ? kNeedPriv : kNeedUser) |
                                (r.exec ? kNeedExec : 0));
  }
  // An IOTLB line's deny mask: index = the walk's rights (arch::PermsIndex
  // bits) | the leaf's D bit << 4 (translate.cc).
  static inline uint8_t IotlbDeny(uint32_t index);
  static uint64_t PasidTag(uint16_t sid, bool has_pasid, uint32_t pasid) {
    const uint64_t key = has_pasid ? (pasid & 0xfffff) : (1u << 20);
    return ((uint64_t{sid} << 21 | key) << 1) | 1;
  }
  static uint64_t ContextTag(uint16_t sid) { return (uint64_t{sid} << 1) | 1; }
  static uint64_t OwnerOf(uint16_t did, uint32_t pasid) {
    return (uint64_t{did} << 20) | (pasid & 0xfffff);
  }
  static uint64_t PageTag(uint64_t addr, unsigned shift) {
    return ((addr >> shift) << 1) | 1;
  }

  struct ContextData {
    SmContextEntry ce;
  };
  struct PasidData {
    uint8_t deny;           // kAlways if anything special (not first stage)
    uint8_t pgtt;
    uint8_t levels;
    bool wpe;
    // The context entry's RID_PRIV (9.4) when this line was filled: the
    // privilege of requests without a PASID. Software invalidates the
    // PASID cache after changing a context entry (6.5, invalidation
    // guidance; Linux's context flush does), so the copy is never staler
    // than the entry the cache may use.
    bool rid_priv;
    bool fpd;               // FPD accumulated over context/dir/PASID entry
    uint16_t did;
    uint32_t pasid;         // effective PASID (RID_PASID without a PASID)
    uint64_t owner;
    uint64_t owner_mix;     // CacheOwnerMix(owner): the IOTLB/PSC set hashes
    PhysAddr fsptptr;
    SpaceId space;          // checker: space of FSPTPTR when fetched
    // Set once a 2 MiB or 1 GiB leaf of this PASID went into the IOTLB
    // since this line was filled: until then a miss in the 4 KiB array
    // skips the large-page arrays (a cache may always miss; 6.2.3).
    bool large;
    // The first-stage walker for this entry (FSPM, WPE, HAW), built when
    // the entry is fetched (arch/walker.h).
    arch::X86Walker walker;
  };
  struct IotlbData {
    uint64_t pa_page;
    uint8_t deny;
    uint8_t page_shift;
    bool writable;
    bool global;
  };
  struct PscData {
    PhysAddr next;          // the table this entry points to
    uint32_t cum;           // rights accumulated down to this entry
                            // (arch::PermsIndex bits)
  };

  VtdResult TranslateSlow(const VtdRequest& r, bool ats);
  // The miss path behind the inline check when it found the PASID-cache
  // line `pc` (rights allow the request) and probed the 4 KiB IOTLB
  // (`e4k`: nullptr, or a line whose rights do not allow the access) in
  // set `set4k` (an IOTLB fill after the miss reuses it). Does
  // what TranslateSlow would, without fetching either again (and without
  // the context cache: the PASID-cache line carries what the translation
  // needs of the context entry; see PasidData::rid_priv).
  [[gnu::noinline]] VtdResult TranslateMiss(const VtdRequest& r,
                                            PasidData* pc,
                                            IotlbData* e4k, CacheSet set4k);
  // From the configuration on: IOTLB (the 4 KiB array already probed when
  // `probed_4k`), paging-structure caches, walk, fills. `cycles` holds the
  // configuration lookups so far.
  VtdResult FirstStage(const VtdRequest& req, PasidData& pc, uint32_t cycles, bool ats,
                       bool probed_4k, IotlbData* e4k);
  // The parts every first-stage miss shares (translate.cc): the
  // paging-structure caches (ProbePsc: where the walk starts), the walk
  // and its fills (WalkFromStart; FillPsc), then the IOTLB fill (FillLeaf).
  struct PscStart;
  void ProbePsc(const VtdRequest& r, const PasidData& pc, const CacheSet* pde_missed,
                uint32_t* cycles, PscStart* s);
  void FillPsc(const VtdRequest& r, const PasidData& pc, const PscStart& s,
               const uint64_t* entries, unsigned low);
  bool WalkFromStart(const VtdRequest& r, PasidData& pc, const PscStart& s, uint32_t* cycles,
                     arch::FastTranslation* t, arch::WalkResult* w);
  // TranslateMiss() past a PDE-cache miss in set `pde_set`.
  [[gnu::noinline]] VtdResult MissBelowPde(const VtdRequest& r, PasidData& pc, CacheSet set4k,
                                           CacheSet pde_set);
  // A miss whose walk from `s` is more than plain reads (TranslateMiss,
  // MissBelowPde); `cycles` as charged so far.
  [[gnu::noinline]] VtdResult MissFromStart(const VtdRequest& r, PasidData& pc, CacheSet set4k,
                                            PscStart s, uint32_t cycles);
  VtdResult FillLeaf(const VtdRequest& r, PasidData& pc, const arch::FastTranslation& t,
                     uint32_t cycles, bool missed_4k, CacheSet set4k, bool record);
  [[gnu::noinline]] VtdResult InterruptRangeLeaf(const VtdRequest& r, bool fpd, uint64_t pa,
                                                 bool writable, uint32_t cycles, bool record);
  // Configuration fetch: context entry then PASID entry. On failure,
  // *fault and *fpd describe the fault.
  const ContextData* FetchContext(uint16_t sid, uint32_t* cycles,
                                  FaultReason* fault, bool* fpd);
  PasidData* FetchPasid(uint16_t sid, const SmContextEntry& ce,
                              bool has_pasid, uint32_t pasid, uint32_t* cycles,
                              FaultReason* fault, bool* fpd);
  VtdResult Fault(const VtdRequest& r, FaultReason reason, bool fpd,
                  uint32_t cycles, bool record);
  // The fault record of request `r` (`fpd`: an FPD was seen on the way).
  static FaultInfo FaultInfoOf(const VtdRequest& r, FaultReason reason, bool fpd);
  // RTA.1-RTA.3: the fault of a request (or a page request) under the
  // active root table's mode, kNone in scalable mode.
  FaultReason RootTableModeFault(bool has_pasid, bool page_request) const;
  // 7.2.1 primary fault logging; false if FPD suppressed the fault (FPD
  // applies to qualified faults only, 7.1.1).
  bool RecordFault(const FaultInfo& f);

  // Registers.
  void OnGcmd(uint32_t value);
  void OnCcmd(uint64_t value);
  void OnIotlbReg(uint64_t value);
  void OnFstsWrite();
  void OnEventCtl(uint32_t ctl_reg, sim::IrqLine& line);
  void SignalEvent(uint32_t ctl_reg, sim::IrqLine& line);
  bool te() const { return te_; }

  // Caches.
  uint32_t InvalidatePiotlb(uint16_t did, uint32_t pasid, bool all,
                            uint64_t addr, uint8_t am, bool ih);
  uint32_t InvalidateIotlbDomain(bool global, uint16_t did);
  void InvalidateAllCaches();
  uint64_t ActiveTtm() const;
  // 11.4.7, 11.4.8.1: register-based invalidation is not performed while
  // QI is enabled or with a non-legacy active root table.
  bool RegisterInvalidationRefused() const;
  void InvalidateContext(uint8_t g, uint16_t sid, uint8_t fm);
  void InvalidatePasidCache(uint8_t g, uint16_t did, uint32_t pasid);

  // Invalidation queue (queues.cc).
  void KickIq();
  void ProcessIq();
  // Executes one descriptor. Sets *error (IQE reported) or *stall
  // (device-TLB time-out pending); adds modelled work to iq_debt_.
  void ExecuteDescriptor(const RawDesc& d, bool* error, bool* stall);
  uint64_t DescriptorCost(const RawDesc& d) const;
  void IqError(uint64_t iqei);
  void DevTlbInvalidate(uint16_t sid, const pci::AtcInvalidation& inv,
                        bool* stall);
  void DevTlbTimeout(uint16_t sid);

  // Page request queue.
  void WritePageRequest(const PageRequestDesc& d);
  void AutoRespond(const PageRequestDesc& d, uint8_t code);

  sim::Simulation& sim_;
  mem::PhysMem& mem_;
  VtdConfig config_;
  std::string prefix_;
  RegisterBank regs_;
  sim::IrqLine fault_irq_;
  sim::IrqLine inv_irq_;
  sim::IrqLine prq_irq_;

  // Active root table (latched by SRTP) and translation type.
  uint64_t active_rtaddr_ = 0;
  uint8_t fri_next_ = 0;       // next fault recording register
  bool fast_ok_ = false;       // TE on, scalable mode: the inline path may hit
  bool te_ = false;            // GSTS.TES, mirrored off the register file

  SetAssocCache<ContextData> context_cache_;
  SetAssocCache<PasidData> pasid_cache_;
  SetAssocCache<IotlbData> iotlb_[3];  // 4 KiB, 2 MiB, 1 GiB
  SetAssocCache<PscData> psc_[4];      // level 2 (PDE) .. level 5 (PML5E)

  // The translate path's counts, kept here (one add each, no pointer to
  // load); the caches keep theirs (CacheCounters). Bound in Init, unbound
  // by the destructor.
  sim::Tally translations_;
  sim::Tally translate_cycles_;
  uint32_t fast_cycles_ = 8;
  sim::Tally walks_;
  sim::Counter* faults_recorded_ = nullptr;
  sim::Counter* faults_suppressed_ = nullptr;
  sim::Counter* faults_lost_ = nullptr;
  sim::Counter* descriptors_ = nullptr;
  sim::Counter* page_requests_ = nullptr;
  sim::Counter* page_requests_lost_ = nullptr;
  sim::Counter* interrupt_requests_ = nullptr;  // 3.15, not remapped
  sim::Counter* page_responses_ = nullptr;

  // The cost model's figures the translate path charges (fixed for the
  // simulation's life).
  uint32_t lookup_cycles_;
  uint32_t read_cycles_;
  uint32_t write_cycles_;

  sim::EventId iq_event_ = sim::kNoEvent;
  bool iq_have_current_ = false;  // a fetched descriptor awaits execution
  RawDesc iq_current_{};
  uint64_t iq_debt_ = 0;          // cycles of work to charge to the next step
  sim::EventId ite_event_ = sim::kNoEvent;
  std::map<uint16_t, pci::EndpointPort*> endpoints_;
  std::vector<FaultInfo> fault_log_;
  std::shared_ptr<spdlog::logger> log_;
};

inline VtdResult Vtd::Translate(const VtdRequest& r) {
  if (fast_ok_) [[likely]] {
    PasidData* pc = pasid_cache_.ProbeMemo(PasidTag(r.sid, r.has_pasid, r.pasid), 0);
    const uint8_t need = NeedOf(r);
    if (pc != nullptr && (pc->deny & need) == 0) [[likely]] {
      const uint64_t tag = PageTag(r.addr, 12);
      const CacheSet set = iotlb_[0].SetFor(tag, pc->owner_mix);
      IotlbData* e = iotlb_[0].ProbeAt(set, tag, pc->owner);
      if (e != nullptr && (e->deny & need) == 0) [[likely]] {
        VtdResult res;
        res.ok = true;
        res.pa = PhysAddr(e->pa_page | (r.addr & 0xfff));
        res.writable = e->writable;
        res.cycles = fast_cycles_;  // two on-chip lookups
        pasid_cache_.counters().hits.Inc();
        iotlb_[0].counters().hits.Inc();
        translate_cycles_.Inc(fast_cycles_);
        return res;
      }
      return TranslateMiss(r, pc, e, set);
    }
  }
  return TranslateSlow(r, /*ats=*/false);
}

}  // namespace svaemu::hw::vtd

#endif  // SVAEMU_HW_VTD_VTD_H_
