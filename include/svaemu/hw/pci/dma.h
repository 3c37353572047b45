// The PCIe side of an IOMMU: what an endpoint sends upstream and what the
// IOMMU sends back, for both VT-d and SMMUv3.
//
// An endpoint (hw/pci/endpoint.h) issues memory requests tagged with its
// requester ID (VT-d source-id; SMMUv3 StreamID) and optionally a PASID
// (SMMUv3 SubstreamID). Untranslated requests go to the IOMMU's
// IommuPort::Translate(); the answer may be immediate (translated or
// aborted) or, on an SMMUv3 with stalls, deferred: the IOMMU keeps the
// transaction and calls the completion exactly once, later, after
// CMD_RESUME or CMD_STALL_TERM. ATS translation requests (PCIe r6 10.2) and
// PRI page requests (10.4) go through the same port; the IOMMU answers page
// requests and invalidates the endpoint's ATC through EndpointPort.
//
// Spec references: PCI Express Base Specification r6.0, 10.2 (ATS
// translation requests/completions), 10.3 (ATS invalidation), 10.4 (PRI:
// page request message, PRG response message with response codes
// Success/Invalid Request/Response Failure).
#ifndef SVAEMU_HW_PCI_DMA_H_
#define SVAEMU_HW_PCI_DMA_H_

#include <cstdint>
#include <functional>

#include "svaemu/base/strong_types.h"

namespace svaemu::hw::pci {

// A memory request as it leaves the endpoint.
struct DmaRequest {
  StreamId rid;             // requester ID (VT-d source-id) / StreamID
  bool has_pasid = false;   // PASID TLP prefix present
  Pasid pasid;              // PASID / SubstreamID
  VirtAddr addr;            // untranslated address (IOVA / user VA)
  bool write = false;
  bool exec = false;        // execute-requested
  bool priv = false;        // privileged-mode-requested
};

enum class DmaStatus : uint8_t {
  kTranslated,  // pa is valid; the endpoint performs the access
  kAborted,     // completer abort / unsupported request: DMA dropped
  kStalled,     // SMMUv3 stall: the completion will be called later
};

struct DmaResult {
  DmaStatus status = DmaStatus::kAborted;
  PhysAddr pa;           // with kTranslated
  bool writable = false;  // with kTranslated: the translation allows writes
};

// Called exactly once per stalled request, when the IOMMU resumes (retry
// succeeded: kTranslated) or terminates (kAborted) it.
using DmaCompletion = std::function<void(const DmaResult&)>;

// ATS translation completion (PCIe 10.2.3): R/W permissions of the range
// (kSuccess), Success with R = W = 0 (kNotPresent: a PRI-capable endpoint
// may send a page request), Unsupported Request (kUnsupported) or
// Completer Abort (kCompleterAbort; PCIe 2.3.1: the completer's error).
struct AtsCompletion {
  enum class Code : uint8_t { kSuccess, kNotPresent, kUnsupported, kCompleterAbort };
  Code code = Code::kUnsupported;
  PhysAddr pa;            // translated page base, with kSuccess
  uint8_t page_shift = 12;
  bool read = false;
  bool write = false;
  bool exec = false;
  bool priv = false;
};

// PRI page request message (PCIe 10.4.1).
struct PageRequest {
  StreamId rid;
  bool has_pasid = false;
  Pasid pasid;
  VirtAddr addr;         // page address (bits 11:0 zero)
  bool read = false;
  bool write = false;
  bool exec = false;
  bool priv = false;
  bool last = false;     // Last Request in PRG
  uint16_t prgi = 0;     // Page Request Group Index (9 bits)
};

// PRG response message (PCIe 10.4.2).
struct PageResponse {
  enum class Code : uint8_t { kSuccess, kInvalidRequest, kResponseFailure };
  StreamId rid;
  bool has_pasid = false;
  Pasid pasid;
  uint16_t prgi = 0;
  Code code = Code::kSuccess;
};

// ATS invalidation request (PCIe 10.3.1): [addr, addr + size) of `pasid`
// (or all PASIDs when !has_pasid and global), size a power of two >= 4 KiB.
struct AtcInvalidation {
  StreamId rid;
  bool has_pasid = false;
  Pasid pasid;
  VirtAddr addr;
  uint64_t size = 0;     // 0: the whole ATC of that requester (and PASID)
  uint32_t itag = 0;     // invalidate tag, echoed in the completion
};

// Implemented by an IOMMU model, used by endpoints.
class IommuPort {
 public:
  virtual ~IommuPort() = default;
  // An untranslated request. For kStalled, `on_complete` is called exactly
  // once later; otherwise it is not called and the result is returned.
  virtual DmaResult Translate(const DmaRequest& req, DmaCompletion on_complete) = 0;
  // An ATS translation request.
  virtual AtsCompletion AtsTranslate(const DmaRequest& req) = 0;
  // A PRI page request message.
  virtual void SendPageRequest(const PageRequest& pr) = 0;
};

// Implemented by an endpoint, used by the IOMMU that it sits behind.
class EndpointPort {
 public:
  virtual ~EndpointPort() = default;
  virtual StreamId rid() const = 0;
  // A PRG response message for one of its page request groups.
  virtual void ReceivePageResponse(const PageResponse& resp) = 0;
  // An ATS invalidation request. Returns false when the endpoint does not
  // answer (a dead or slow device): the IOMMU then reports a device-TLB
  // invalidation time-out the way its specification says.
  virtual bool ReceiveAtcInvalidation(const AtcInvalidation& inv) = 0;
};

}  // namespace svaemu::hw::pci

#endif  // SVAEMU_HW_PCI_DMA_H_
