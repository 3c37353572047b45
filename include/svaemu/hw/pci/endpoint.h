// Endpoint: a DMA-issuing PCIe function with a requester ID, an optional
// PASID capability, an optional ATS device TLB (ATC) and optional PRI.
//
// Tests and scenarios drive it: Read()/Write() issue one DMA of at most one
// 4 KiB page (a longer transfer is split by the caller). The path, as on a
// real device:
//   - with ATS: an ATC hit is used directly (a Translated request, no IOMMU
//     lookup); a miss sends an ATS translation request; a "not present"
//     completion with PRI enabled sends a page request and parks the access
//     until the PRG response arrives (success: translate again, once; other
//     codes: the access fails);
//   - without ATS: an untranslated request to IommuPort::Translate(); a
//     stalled one completes when the IOMMU calls back.
// The data access itself goes to PhysMem as Agent::Device(index) with
// purpose kDmaRead/kDmaWrite, and is offered to the access observer (the
// scenario checker of issue 5 compares the frame with the address space the
// device should be in).
//
// Every DMA ends in exactly one DmaRecord: kDone, kAborted, or — while it
// waits for a stall or a page response — kPending until then.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_HW_PCI_ENDPOINT_H_
#define SVAEMU_HW_PCI_ENDPOINT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "svaemu/hw/pci/dma.h"

namespace svaemu::mem {
class PhysMem;
}
namespace svaemu::sim {
class Simulation;
}

namespace svaemu::hw::pci {

struct EndpointConfig {
  StreamId rid;
  uint16_t index = 0;       // Agent::Device(index)
  uint8_t pasid_bits = 20;  // 0: no PASID capability
  bool ats = false;
  bool pri = false;
  uint32_t atc_entries = 64;
  bool answers_atc_invalidation = true;  // false: a dead device (ITE)
};

enum class DmaOutcome : uint8_t { kPending, kDone, kAborted };

struct DmaRecord {
  uint64_t id = 0;
  uint64_t issue_time = 0;
  uint64_t done_time = 0;
  std::optional<Pasid> pasid;
  VirtAddr addr;
  bool write = false;
  bool privileged = false;
  DmaOutcome outcome = DmaOutcome::kPending;
  PhysAddr pa;               // with kDone
  bool via_atc = false;      // served by the device TLB
  bool page_requested = false;
};

// What reached memory, for the checker.
struct DmaAccess {
  uint16_t device = 0;
  StreamId rid;
  std::optional<Pasid> pasid;
  VirtAddr addr;
  PhysAddr pa;
  bool write = false;
};

class Endpoint : public EndpointPort {
 public:
  Endpoint(sim::Simulation& sim, mem::PhysMem& mem, EndpointConfig config);
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Plugs the endpoint in behind an IOMMU.
  void Connect(IommuPort* iommu) { iommu_ = iommu; }

  // One DMA within one 4 KiB page. `data` is the bytes to write, or the
  // buffer to read into (filled when the DMA completes; it must outlive a
  // pending DMA). Returns the record id.
  // `privileged`: the request carries Privileged-Mode-Requested (kernel-mode
  // SVA; VT-d honours it only with SRE set in the PASID entry).
  uint64_t Write(std::optional<Pasid> pasid, VirtAddr addr,
                 std::span<const uint8_t> data, bool privileged = false);
  uint64_t Read(std::optional<Pasid> pasid, VirtAddr addr,
                std::span<uint8_t> out, bool privileged = false);

  const DmaRecord& record(uint64_t id) const { return records_.at(id - 1); }
  const std::vector<DmaRecord>& records() const { return records_; }
  size_t pending() const;
  void set_access_observer(std::function<void(const DmaAccess&)> fn) {
    observer_ = std::move(fn);
  }
  // Called as each DMA leaves the device (before any translation): a PASID
  // is "used" by the request even when the IOMMU then faults it.
  void set_issue_observer(std::function<void(const DmaRecord&)> fn) {
    issue_observer_ = std::move(fn);
  }

  // EndpointPort.
  StreamId rid() const override { return config_.rid; }
  void ReceivePageResponse(const PageResponse& resp) override;
  bool ReceiveAtcInvalidation(const AtcInvalidation& inv) override;

  void set_answers_atc_invalidation(bool on) {
    config_.answers_atc_invalidation = on;
  }
  const EndpointConfig& config() const { return config_; }
  size_t atc_size() const { return atc_.size(); }
  uint64_t page_requests_sent() const { return page_requests_sent_; }
  uint64_t atc_invalidations() const { return atc_invalidations_; }
  // The code of every PRG response received, in order.
  const std::vector<PageResponse::Code>& page_response_codes() const {
    return page_response_codes_;
  }

 private:
  struct AtcEntry {
    std::optional<Pasid> pasid;
    uint64_t page;  // addr >> page_shift
    uint8_t page_shift;
    PhysAddr pa;
    bool write;
  };
  struct Parked {  // waiting for a PRG response
    uint64_t id;
    uint16_t prgi;
    std::span<uint8_t> buf;
    std::vector<uint8_t> wdata;
  };

  uint64_t Issue(std::optional<Pasid> pasid, VirtAddr addr, bool write,
                 bool privileged, std::span<uint8_t> buf,
                 std::vector<uint8_t> wdata);
  // Tries the access; may park it. `retried` after a page response.
  void Attempt(uint64_t id, std::span<uint8_t> buf, std::vector<uint8_t> wdata,
               bool retried);
  void Complete(uint64_t id, const DmaResult& r, std::span<uint8_t> buf,
                const std::vector<uint8_t>& wdata);
  const AtcEntry* AtcLookup(std::optional<Pasid> pasid, VirtAddr addr) const;
  DmaRequest MakeRequest(const DmaRecord& rec) const;

  sim::Simulation& sim_;
  mem::PhysMem& mem_;
  EndpointConfig config_;
  IommuPort* iommu_ = nullptr;
  std::vector<DmaRecord> records_;
  std::vector<AtcEntry> atc_;  // FIFO replacement
  std::vector<Parked> parked_;
  uint16_t next_prgi_ = 0;
  uint64_t page_requests_sent_ = 0;
  uint64_t atc_invalidations_ = 0;
  std::vector<PageResponse::Code> page_response_codes_;
  std::function<void(const DmaAccess&)> observer_;
  std::function<void(const DmaRecord&)> issue_observer_;
};

}  // namespace svaemu::hw::pci

#endif  // SVAEMU_HW_PCI_ENDPOINT_H_
