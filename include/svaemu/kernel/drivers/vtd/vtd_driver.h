// VtdDriver: the Linux intel-iommu driver's scalable-mode SVA paths, talking
// to a VT-d model only through MMIO registers, structures in memory and
// interrupts (drivers/iommu/intel/{iommu,pasid,dmar,prq}.c).
//
// The SVA core (next issue) calls, per unit:
//   Probe()                 init_dmars(): CAP/ECAP, root table, QI, PRQ,
//                           fault/PRQ interrupts, global invalidation, TE.
//   AttachDevice()          domain_context_mapping() in scalable mode +
//                           intel_pasid_alloc_table(): context entry with a
//                           PASID directory, DTE/PRE if the device has
//                           ATS/PRI.
//   SetupFirstStagePasid()  intel_pasid_setup_first_level().
//   TearDownPasid()         intel_pasid_tear_down_entry(): entry cleared
//                           (FPD-only when faults are to be suppressed),
//                           PASID-cache, PASID-based IOTLB (IH=0) and
//                           device-TLB invalidation, synchronously.
//   FlushPasidRange()       cache_tag_flush_range(): page-selective
//                           PASID-based IOTLB + device TLB; IH=0 when
//                           page-table pages were freed, IH=1 otherwise.
//   FlushPasidAll()         cache_tag_flush_all() for one PASID.
//   DrainPasidPrq()         intel_drain_pasid_prq().
//   PageResponse()          intel_iommu_page_response() (IopfResponder).
//   SubmitSync()            qi_submit_sync(): descriptors + a wait
//                           descriptor, poll its status word by running the
//                           event queue, bounded by steps and virtual time.
// The threaded PRQ handler (prq_event_thread) reports page requests to the
// IopfSink; the threaded fault handler (dmar_fault) reads and clears the
// fault recording registers into faults().
//
// Thread-safety: thread-compatible (runs on the simulation thread).
#ifndef SVAEMU_KERNEL_DRIVERS_VTD_VTD_DRIVER_H_
#define SVAEMU_KERNEL_DRIVERS_VTD_VTD_DRIVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "svaemu/base/strong_types.h"
#include "svaemu/hw/mmio.h"
#include "svaemu/hw/vtd/descriptors.h"
#include "svaemu/hw/vtd/tables.h"
#include "svaemu/kernel/iommu/iopf.h"

namespace svaemu::mem {
class PhysMem;
class FrameAllocator;
}  // namespace svaemu::mem
namespace svaemu::sim {
class Simulation;
class IrqLine;
class Counter;
}  // namespace svaemu::sim

namespace svaemu::kernel::vtd {

// The unit's interrupt outputs (the model owns the lines).
struct VtdIrqs {
  sim::IrqLine* fault = nullptr;
  sim::IrqLine* prq = nullptr;
};

struct VtdDriverConfig {
  uint16_t unit = 0;
  uint64_t qi_timeout_cycles = 50'000'000;  // qi_submit_sync virtual-time bound
  size_t qi_max_steps = 1'000'000;          // and event-step bound
  uint8_t iq_order = 0;                     // IQA.QS: 2^QS pages
  uint8_t prq_order = 0;                    // PQA.PQS
};

struct AttachOptions {
  uint8_t pasid_bits = 20;  // device PASID width: sizes the PASID directory
  bool ats = false;         // DTE: device TLB in use
  bool pri = false;         // PRE: page requests enabled
  uint32_t rid_pasid = 0;   // RID_PASID for requests without PASID
};

struct FirstStageOptions {
  uint8_t levels = 4;    // FSPM: 4 or 5
  bool sre = false;      // supervisor requests (and WPE, as Linux sets it)
  bool ere = false;      // execute requests
};

// A fault as read back from a fault recording register (7.2.1).
struct RecordedFault {
  hw::vtd::FaultReason reason = hw::vtd::FaultReason::kNone;
  uint16_t sid = 0;
  bool has_pasid = false;
  uint32_t pasid = 0;
  uint64_t addr = 0;   // page address (FI)
  bool write = false;
  bool priv = false;
  bool exec = false;
};

class VtdDriver : public IopfResponder {
 public:
  // init_dmars(). FailedPrecondition if the unit lacks scalable mode, QI,
  // first-stage translation or PASID support.
  static absl::StatusOr<std::unique_ptr<VtdDriver>> Probe(
      sim::Simulation& sim, mem::PhysMem& mem, mem::FrameAllocator& alloc,
      hw::MmioDevice& regs, VtdIrqs irqs, VtdDriverConfig config = {});
  ~VtdDriver() override;
  VtdDriver(const VtdDriver&) = delete;
  VtdDriver& operator=(const VtdDriver&) = delete;

  // AlreadyExists if attached; InvalidArgument for pasid_bits > ECAP.PSS+1,
  // FailedPrecondition for ATS/PRI the unit lacks.
  absl::Status AttachDevice(StreamId rid, AttachOptions opts);
  // NotFound: device not attached; OutOfRange: PASID beyond the device's
  // width; AlreadyExists: entry present (-EBUSY); InvalidArgument: levels;
  // FailedPrecondition: 5-level/SRS/ERS not supported.
  absl::Status SetupFirstStagePasid(StreamId rid, Pasid pasid, PhysAddr pgd,
                                    DomainId did, FirstStageOptions opts = {});
  // intel_pasid_replace_first_level(): a first-stage entry written over
  // the present one (the hardware sees the old or the new entry, never a
  // non-present one), then intel_pasid_flush_present(): PASID cache,
  // PASID-based IOTLB and device TLB of the old DID. NotFound if the entry
  // is not present; otherwise the errors of SetupFirstStagePasid.
  absl::Status ReplaceFirstStagePasid(StreamId rid, Pasid pasid, PhysAddr pgd,
                                      DomainId did, FirstStageOptions opts = {});
  // intel_pasid_setup_pass_through() (replace: over a present entry, as
  // intel_pasid_replace_pass_through()): PGTT = 100b (9.6), DID = `did`.
  // FailedPrecondition without ECAP.PT; AlreadyExists (present, !replace);
  // NotFound (not present, replace; or device not attached).
  absl::Status SetupPassThroughPasid(StreamId rid, Pasid pasid, DomainId did,
                                     bool replace);
  // The entry's P bit as it is in memory (false if there is no table).
  bool PasidEntryPresent(StreamId rid, Pasid pasid);
  bool pass_through_supported() const;
  // NotFound if the device is not attached or the entry is not present.
  absl::Status TearDownPasid(StreamId rid, Pasid pasid, bool suppress_faults);
  // [start, end), end exclusive. IH = !page_tables_freed.
  absl::Status FlushPasidRange(DomainId did, Pasid pasid, VirtAddr start,
                               VirtAddr end, bool page_tables_freed);
  absl::Status FlushPasidAll(DomainId did, Pasid pasid);
  absl::Status DrainPasidPrq(StreamId rid, Pasid pasid);

  // IopfResponder: a page group response for the group of `last`.
  void PageResponse(const FaultSource& src, const IopfFault& last,
                    PageResponseCode code) override;
  void set_iopf_sink(IopfSink* sink) { sink_ = sink; }

  // qi_submit_sync(). InvalidArgument on IQE (the bad descriptor is
  // replaced, as Linux does), DeadlineExceeded on ITE or time-out.
  absl::Status SubmitSync(std::span<const hw::vtd::RawDesc> descs,
                          bool prq_drain = false);

  // Runs the threaded handlers now (synchronize_irq() on both lines).
  void SynchronizeIrqs();

  const std::vector<RecordedFault>& faults() const { return faults_; }
  void ClearFaults() { faults_.clear(); }
  uint64_t cap() const { return cap_; }
  uint64_t ecap() const { return ecap_; }
  uint64_t page_requests_reported() const { return prq_reported_; }
  uint64_t page_responses_sent() const { return responses_sent_; }
  uint64_t submissions() const { return submissions_; }

 private:
  struct Device {
    AttachOptions opts;
    PhysAddr pasid_dir;
    uint32_t dir_entries = 0;
  };
  struct Binding {
    uint16_t did;
  };

  VtdDriver(sim::Simulation& sim, mem::PhysMem& mem, mem::FrameAllocator& alloc,
            hw::MmioDevice& regs, VtdIrqs irqs, VtdDriverConfig config);
  absl::Status Init();
  absl::Status GlobalCommand(uint32_t bit, bool on);
  absl::StatusOr<PhysAddr> PasidEntryAddress(const Device& d, uint32_t pasid,
                                             bool allocate);
  // The checks and the entry of intel_pasid_setup_first_level().
  absl::StatusOr<hw::vtd::PasidEntry> FirstStageEntry(const Device& d, uint32_t pasid,
                                                      PhysAddr pgd, DomainId did,
                                                      const FirstStageOptions& opts) const;
  // Writes `e` at (rid, pasid): into a non-present entry (P last), or with
  // `replace` over a present one followed by intel_pasid_flush_present().
  // SetupFirstStagePasid / ReplaceFirstStagePasid.
  absl::Status InstallFirstStage(StreamId rid, Pasid pasid, PhysAddr pgd, DomainId did,
                                 FirstStageOptions opts, bool replace);
  absl::Status InstallPasidEntry(uint16_t rid, uint32_t pasid,
                                 const hw::vtd::PasidEntry& e, bool replace);
  void AppendDevTlb(uint16_t did, uint32_t pasid, uint64_t addr, uint64_t size,
                    std::vector<hw::vtd::RawDesc>* out) const;
  void WriteDesc(uint64_t offset, const hw::vtd::RawDesc& d);
  void PrqThread();    // prq_event_thread()
  void FaultThread();  // dmar_fault()

  sim::Simulation& sim_;
  mem::PhysMem& mem_;
  mem::FrameAllocator& alloc_;
  hw::MmioDevice& regs_;
  VtdIrqs irqs_;
  VtdDriverConfig config_;
  uint64_t cap_ = 0, ecap_ = 0;
  uint32_t gcmd_ = 0;
  PhysAddr root_;
  PhysAddr iq_;
  uint64_t iq_bytes_ = 0;
  uint64_t iq_tail_ = 0;
  PhysAddr status_page_;
  uint32_t status_slot_ = 0;
  PhysAddr prq_;
  uint64_t prq_bytes_ = 0;
  std::map<uint16_t, PhysAddr> context_tables_;  // (bus << 1 | upper) -> table
  std::map<uint16_t, Device> devices_;
  std::map<std::pair<uint16_t, uint32_t>, Binding> bindings_;
  IopfSink* sink_ = nullptr;
  std::vector<RecordedFault> faults_;
  uint64_t prq_reported_ = 0;
  uint64_t responses_sent_ = 0;
  uint64_t submissions_ = 0;
};

}  // namespace svaemu::kernel::vtd

#endif  // SVAEMU_KERNEL_DRIVERS_VTD_VTD_DRIVER_H_
