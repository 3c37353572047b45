// SmmuV3Driver: the kernel model's arm-smmu-v3 driver
// (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c and -sva.c). It talks to the
// hardware model only through MMIO (hw::MmioDevice), memory it allocates
// (FrameAllocator, FrameUse::kIommuTable / kQueue) and interrupt lines.
//
// What the SVA core (next issue) calls, with the Linux function each models:
//   Probe()            arm_smmu_device_probe(): IDRs, tables, queues, IRQs.
//   AttachMaster()     arm_smmu_attach_dev() with a CD table:
//                      arm_smmu_make_cdtable_ste() + arm_smmu_write_ste().
//   WriteSvaCd()       arm_smmu_make_sva_cd() + arm_smmu_write_cd_entry().
//   QuiesceCd()        arm_smmu_mm_release(): CD valid, EPD0 = 1, TLBI.
//   ClearCd()          arm_smmu_clear_cd(): V = 0, CFGI_CD, SYNC.
//   TlbiAsid()/TlbiVa() arm_smmu_tlb_inv_asid()/arm_smmu_tlb_inv_range_asid().
//   AtcInvalidate()    arm_smmu_atc_inv_master() / arm_smmu_atc_inv_domain().
//   AttachSsid()/ReplaceSsid()/DetachSsid()
//                      arm_smmu_set_pasid() / arm_smmu_remove_dev_pasid() and
//                      the attach state (arm_smmu_attach_prepare/commit)
//                      whose old master_domain is freed on release, after the
//                      drain when DetachDrain::kDrain.
//   PageResponse()     arm_smmu_page_response(): CMD_RESUME for stalls,
//                      CMD_PRI_RESP for PRI (kernel::IopfResponder).
// The event-queue and PRI-queue handlers report recoverable faults to the
// IopfSink (iommu_report_device_fault()).
//
// Seed bug 3 (../shared/DESIGN.md): the handler that reads a stall event
// resolves (StreamID, SSID) to the current MasterDomain and keeps the
// pointer with the event (to the threaded handler and, as a cookie in
// IopfFault::private_data, to the IOPF core). Every later step calls
// MasterDomain::Use() first, so a master_domain freed in between is a
// kKernelObjectUseAfterFree report, never a read of freed C++ memory
// (MasterDomains are owned by the driver and stay in quarantine). A stall
// is answered exactly once even when its master_domain is gone.
//
// Thread-safety: thread-compatible; runs on the simulation's thread.
#ifndef SVAEMU_KERNEL_DRIVERS_SMMUV3_DRIVER_H_
#define SVAEMU_KERNEL_DRIVERS_SMMUV3_DRIVER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/base/logging.h"
#include "svaemu/hw/mmio.h"
#include "svaemu/hw/smmuv3/commands.h"
#include "svaemu/hw/smmuv3/events.h"
#include "svaemu/hw/smmuv3/regs.h"
#include "svaemu/hw/smmuv3/tables.h"
#include "svaemu/kernel/iommu/iopf.h"
#include "svaemu/kernel/kobject.h"
#include "svaemu/mem/frame_shadow.h"
#include "svaemu/kernel/policy.h"
#include "svaemu/sim/irq.h"

namespace svaemu::mem {
class FrameAllocator;
}
namespace svaemu::sim {
class Simulation;
}

namespace svaemu::kernel::drivers::smmuv3 {

// Seed bug 3 policy (kernel::DetachDrain, policy.h): what detach/replace
// does before freeing the old master_domain — kNone frees at once (pre-2026),
// kDrain polls EVTQ empty, synchronizes the evtq and combined IRQs and
// flushes the IOPF queue first.

// The interrupt lines as firmware describes them (some SoCs wire only the
// combined one).
struct SmmuV3IrqLines {
  sim::IrqLine* evtq = nullptr;
  sim::IrqLine* priq = nullptr;
  sim::IrqLine* cmd_sync = nullptr;
  sim::IrqLine* gerror = nullptr;
  sim::IrqLine* combined = nullptr;  // used when the others are null
};

struct SmmuV3DriverConfig {
  uint16_t unit = 0;             // FaultSource::unit
  uint8_t strtab_split = 8;      // STRTAB_SPLIT
  uint8_t linear_sid_bits = 8;   // stream table size without ST_LEVEL
  uint8_t cmdq_log2 = 8;
  uint8_t evtq_log2 = 7;
  uint8_t priq_log2 = 7;
  DetachDrain detach_drain = DetachDrain::kDrain;
  // Bound on simulation steps for one wait (SYNC, queue space, drain).
  size_t max_wait_steps = 100'000;
  // Check "every intermediate STE/CD state is the old or the new one on the
  // bits in use" after each 64-bit write (arm-smmu-v3-test.c).
  bool check_write_invariant = true;
};

// arm_smmu_master_domain: links a master (StreamID) and SSID to a domain.
class MasterDomain : public KObject {
 public:
  MasterDomain(sim::Simulation& sim, StreamId sid, uint32_t ssid,
               uint64_t domain)
      : KObject(sim, "master_domain", "arm_smmu_attach_prepare"),
        sid_(sid), ssid_(ssid), domain_(domain) {}
  StreamId sid() const { return sid_; }
  uint32_t ssid() const { return ssid_; }
  uint64_t domain() const { return domain_; }

 private:
  StreamId sid_;
  uint32_t ssid_;
  uint64_t domain_;
};

// A master (arm_smmu_master): one StreamID.
struct MasterConfig {
  StreamId sid;
  uint8_t ssid_bits = 20;  // PASID width of the device
  bool stall = false;      // the device can stall (firmware "dma-can-stall")
  bool ats = false;
  bool pri = false;
  // STE.S1DSS for traffic without a PASID.
  uint64_t s1dss = hw::smmuv3::Ste::kS1DSSTerminate;
};

// What an STE makes of a master's traffic (5.2 STE.Config).
enum class SteKind : uint8_t {
  kAbort,    // arm_smmu_make_abort_ste(): Config = 0b000, no events
  kBypass,   // arm_smmu_make_bypass_ste(): Config = 0b100
  kCdTable,  // arm_smmu_make_cdtable_ste(): stage 1 with the CD table;
             // S1DSS decides traffic without a SubstreamID
};

class SmmuV3Driver : public IopfResponder {
 public:
  // arm_smmu_device_probe() + arm_smmu_device_reset(). FailedPrecondition if
  // the IDRs lack what the driver needs (S1P, AArch64 tables, 4 KiB).
  static absl::StatusOr<std::unique_ptr<SmmuV3Driver>> Probe(
      sim::Simulation& sim, mem::FrameAllocator& alloc, hw::MmioDevice& mmio,
      SmmuV3IrqLines irqs, SmmuV3DriverConfig config = {});
  ~SmmuV3Driver() override;
  SmmuV3Driver(const SmmuV3Driver&) = delete;
  SmmuV3Driver& operator=(const SmmuV3Driver&) = delete;

  // --- Masters and contexts ---
  // arm_smmu_attach_dev(): STE with a CD table. AlreadyExists, OutOfRange
  // (StreamID beyond the table), ResourceExhausted.
  absl::Status AttachMaster(const MasterConfig& m);
  // Stall enabled for the master (S1STALLD == 0 and STALL_MODEL allows).
  bool StallEnabled(StreamId sid) const;
  // arm_smmu_make_sva_cd() + arm_smmu_write_cd_entry(): TTB0 = pgd,
  // EPD1 = 1, the ASID, S when stalls are enabled. NotFound: no master.
  absl::Status WriteSvaCd(StreamId sid, uint32_t ssid, PhysAddr pgd, Asid asid);
  // arm_smmu_make_s1_cd() for a paging domain + arm_smmu_write_cd_entry():
  // TTB0 = the domain's table (4 KiB granule, T0SZ = 16), EPD1 = 1, the
  // domain's private ASID (ASET = 0), no HTTU, no stall (CD.S = 0: paging
  // domains take no IO page faults). NotFound: no master.
  absl::Status WritePagingCd(StreamId sid, uint32_t ssid, PhysAddr ttb0, Asid asid);
  // arm_smmu_install_ste_for_dev() of an abort, bypass or CD-table STE
  // (`s1dss` for kCdTable: Ste::kS1DSSTerminate/Bypass/Ssid0), written
  // hitlessly where the used bits allow (arm_smmu_write_entry()).
  // NotFound: no master.
  absl::Status InstallSte(StreamId sid, SteKind kind,
                          uint64_t s1dss = hw::smmuv3::Ste::kS1DSSTerminate);
  // The kind of STE the master has now (kCdTable right after AttachMaster).
  SteKind ste_kind(StreamId sid) const;
  // arm_smmu_ssids_in_use(): a PASID (SSID) is attached on the master.
  bool SsidsInUse(StreamId sid) const;
  // arm_smmu_mm_release(): CD stays valid with EPD0 = 1 (no walks, faults
  // only), CFGI_CD + SYNC, then TLBI by ASID + SYNC.
  absl::Status QuiesceCd(StreamId sid, uint32_t ssid);
  // arm_smmu_clear_cd(): V = 0, CFGI_CD + SYNC.
  absl::Status ClearCd(StreamId sid, uint32_t ssid);
  // The CD as it is in memory now (tests).
  absl::StatusOr<hw::smmuv3::Cd> ReadCd(StreamId sid, uint32_t ssid) const;
  absl::StatusOr<hw::smmuv3::Ste> ReadSte(StreamId sid) const;
  // Where the STE / CD lives (tests that corrupt entries on purpose).
  absl::StatusOr<PhysAddr> SteAddress(StreamId sid) const;
  absl::StatusOr<PhysAddr> CdAddressOf(StreamId sid, uint32_t ssid) const;

  // --- Invalidation (each ends with CMD_SYNC and waits for it) ---
  absl::Status TlbiAsid(Asid asid);
  // [va, va + size): range commands (IDR3.RIL); leaf = only last-level
  // entries. ttl: level hint (0 none).
  absl::Status TlbiVa(Asid asid, VirtAddr va, uint64_t size, bool leaf,
                      uint8_t ttl = 0);
  absl::Status AtcInvalidate(StreamId sid, std::optional<uint32_t> ssid,
                             VirtAddr va, uint64_t size);
  // Queues raw commands, then CMD_SYNC, and waits (tests, benchmarks).
  absl::Status Submit(const std::vector<hw::smmuv3::Command>& cmds,
                      bool sync = true);
  // Queues commands without waiting (RESUME, PRI_RESP).
  absl::Status Issue(const hw::smmuv3::Command& cmd);
  // CMD_SYNC and wait for CONS to pass it. DeadlineExceeded after
  // max_wait_steps; Internal if the queue reports an error.
  absl::Status Sync();

  // --- master_domain attach state (seed bug 3) ---
  // Links (sid, ssid) to `domain` with a new MasterDomain.
  absl::StatusOr<MasterDomain*> AttachSsid(StreamId sid, uint32_t ssid,
                                           uint64_t domain);
  // Replaces the attachment: the old MasterDomain is freed per policy.
  absl::StatusOr<MasterDomain*> ReplaceSsid(StreamId sid, uint32_t ssid,
                                            uint64_t domain);
  // Removes the attachment: clears the CD, then frees per policy.
  absl::Status DetachSsid(StreamId sid, uint32_t ssid);
  MasterDomain* FindMasterDomain(StreamId sid, uint32_t ssid) const;
  void set_detach_drain(DetachDrain d) { config_.detach_drain = d; }

  // --- Faults ---
  // The IO page-fault core; nullptr: stalls are terminated at once.
  void set_iopf_sink(IopfSink* sink) { sink_ = sink; }
  // iopf_queue_flush_dev(): called by the drain.
  void set_iopf_flush(std::function<void(const FaultSource&)> fn) {
    iopf_flush_ = std::move(fn);
  }
  // arm_smmu_page_response().
  void PageResponse(const FaultSource& src, const IopfFault& last,
                    PageResponseCode code) override;

  // Introspection.
  const std::vector<hw::smmuv3::Event>& events_seen() const { return events_; }
  uint64_t evtq_overflows() const { return evtq_overflows_; }
  uint64_t invariant_failures() const { return invariant_failures_; }
  uint32_t idr0() const { return idr0_; }
  hw::smmuv3::StallModel stall_model() const;
  // Every intermediate entry image written (tests): (what, words).
  struct WriteStep {
    const char* what;  // "ste" or "cd"
    std::vector<uint64_t> words;
  };
  const std::vector<WriteStep>& write_log() const { return write_log_; }
  void clear_write_log() { write_log_.clear(); }

  // Bits of an STE / CD that the hardware reads in its current state
  // (arm_smmu_get_ste_used / arm_smmu_get_cd_used).
  static hw::smmuv3::Ste SteUsed(const hw::smmuv3::Ste& ste);
  static hw::smmuv3::Cd CdUsed(const hw::smmuv3::Cd& cd);

 private:
  struct Master {
    MasterConfig cfg;
    bool stall_enabled = false;
    PhysAddr ste;            // the STE's address
    PhysAddr cd_table;       // linear table or L1 table
    bool cd_2lvl = false;
    std::map<uint32_t, PhysAddr> cd_l2;  // L1 index -> leaf table
    SteKind ste_kind = SteKind::kCdTable;
  };
  // A stall or page request handed from the hard to the threaded handler.
  struct PendingFault {
    hw::smmuv3::Event evt;
    bool pri = false;
    hw::smmuv3::PriEntry pri_entry;
    MasterDomain* md = nullptr;  // resolved by the reader; may be freed later
  };

  SmmuV3Driver(sim::Simulation& sim, mem::FrameAllocator& alloc,
               hw::MmioDevice& mmio, SmmuV3IrqLines irqs,
               SmmuV3DriverConfig config);
  absl::Status Init();
  absl::StatusOr<PhysAddr> AllocTable(uint64_t bytes, mem::FrameUse use,
                                      const char* site);
  absl::Status WaitFor(const std::function<bool()>& done, const char* what);

  // Entries (entries.cc).
  absl::StatusOr<PhysAddr> CdAddress(Master& m, uint32_t ssid, bool alloc);
  // arm_smmu_write_entry(): writes `target` over the entry at `pa` so that
  // each intermediate state is legal; `sync` issues the CFGI + SYNC that
  // makes each step visible.
  template <typename Entry>
  absl::Status WriteEntry(PhysAddr pa, const Entry& target,
                          const std::function<absl::Status()>& sync,
                          const char* what);
  template <typename Entry>
  Entry ReadEntry(PhysAddr pa) const;
  hw::smmuv3::Cd MakeSvaCd(const Master& m, PhysAddr pgd, Asid asid) const;
  hw::smmuv3::Ste MakeCdTableSte(const Master& m, uint64_t s1dss) const;
  absl::Status WriteCd(StreamId sid, uint32_t ssid, const hw::smmuv3::Cd& cd);

  // Interrupts and faults (faults.cc).
  void RequestIrqs();
  sim::IrqReturn EvtqHard();
  void EvtqThread();
  sim::IrqReturn PriqHard();
  void PriqThread();
  sim::IrqReturn GerrorHard();
  void ReadEvtq();
  void ReadPriq();
  void HandlePending(PendingFault f);
  void FreeMasterDomain(MasterDomain* md);
  bool EvtqEmpty();

  sim::Simulation& sim_;
  mem::FrameAllocator& alloc_;
  hw::MmioDevice& mmio_;
  SmmuV3IrqLines irqs_;
  SmmuV3DriverConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  uint32_t idr0_ = 0, idr1_ = 0, idr5_ = 0;
  uint8_t sid_bits_ = 0, ssid_bits_ = 0, oas_bits_ = 48;
  bool two_level_ = false;
  PhysAddr strtab_;
  std::map<uint32_t, PhysAddr> strtab_l2_;
  PhysAddr cmdq_, evtq_, priq_;
  uint32_t cmdq_prod_ = 0;     // the driver's copy (index | wrap)
  uint32_t evtq_ovflg_ = 0;    // last OVFLG seen
  uint32_t priq_ovflg_ = 0;
  std::map<uint32_t, Master> masters_;
  IopfSink* sink_ = nullptr;
  std::function<void(const FaultSource&)> iopf_flush_;
  // Owned master_domains, freed ones included (quarantine).
  std::vector<std::unique_ptr<MasterDomain>> md_store_;
  std::map<std::pair<uint32_t, uint32_t>, MasterDomain*> attached_;
  std::deque<PendingFault> evtq_pending_, priq_pending_;
  // Reported faults awaiting PageResponse: (sid, stag-or-prgi, pri).
  struct Outstanding {
    MasterDomain* md;
    bool pri;
  };
  std::map<std::tuple<uint32_t, uint32_t, bool>, Outstanding> outstanding_;
  std::vector<hw::smmuv3::Event> events_;
  uint64_t evtq_overflows_ = 0;
  uint64_t invariant_failures_ = 0;
  std::vector<WriteStep> write_log_;
};

}  // namespace svaemu::kernel::drivers::smmuv3

#endif  // SVAEMU_KERNEL_DRIVERS_SMMUV3_DRIVER_H_
