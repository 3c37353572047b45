// The contract between an IOMMU driver and the IO page-fault core.
//
// A driver that receives a recoverable fault from hardware (a VT-d page
// request descriptor, an SMMUv3 stall event or PRI page request) turns it
// into an IopfFault and calls IopfSink::ReportFault() — Linux's
// iommu_report_device_fault(). The core (issue 5: kernel/iopf) groups
// faults, finds the handler, resolves them, and calls the driver back
// through IopfResponder::PageResponse() — iommu_ops.page_response() — with
// the last fault of the group, exactly once per reported group: pair every
// ReportFault of a fault with kIopfLastPage with one PageResponse.
// Until then, tests use a double that handles faults with Mm::HandleFault.
//
// Field meanings follow struct iommu_fault_page_request in
// include/linux/iommu.h.
#ifndef SVAEMU_KERNEL_IOMMU_IOPF_H_
#define SVAEMU_KERNEL_IOMMU_IOPF_H_

#include <cstdint>

#include "svaemu/base/strong_types.h"

namespace svaemu::kernel {

// IopfFault::flags (IOMMU_FAULT_PAGE_REQUEST_*).
inline constexpr uint32_t kIopfPasidValid = 1 << 0;
inline constexpr uint32_t kIopfLastPage = 1 << 1;
inline constexpr uint32_t kIopfPrivData = 1 << 2;
// IopfFault::perm (IOMMU_FAULT_PERM_*).
inline constexpr uint32_t kIopfPermRead = 1 << 0;
inline constexpr uint32_t kIopfPermWrite = 1 << 1;
inline constexpr uint32_t kIopfPermExec = 1 << 2;
inline constexpr uint32_t kIopfPermPriv = 1 << 3;

// Which device faulted: the IOMMU unit and the requester (RID / StreamID).
struct FaultSource {
  uint16_t unit = 0;
  StreamId rid;
  friend bool operator==(const FaultSource&, const FaultSource&) = default;
};

struct IopfFault {
  uint32_t flags = 0;
  Pasid pasid;
  uint32_t grpid = 0;      // PRG index, or the SMMUv3 STAG
  uint32_t perm = 0;
  VirtAddr addr;
  uint64_t private_data[2] = {0, 0};
};

enum class PageResponseCode : uint8_t {
  kSuccess,  // IOMMU_PAGE_RESP_SUCCESS: retry the access
  kInvalid,  // IOMMU_PAGE_RESP_INVALID: the access fails
  kFailure,  // IOMMU_PAGE_RESP_FAILURE: stop sending requests
};

// Implemented by the IO page-fault core.
class IopfSink {
 public:
  virtual ~IopfSink() = default;
  virtual void ReportFault(const FaultSource& src, const IopfFault& fault) = 0;
};

// Implemented by an IOMMU driver.
class IopfResponder {
 public:
  virtual ~IopfResponder() = default;
  virtual void PageResponse(const FaultSource& src, const IopfFault& last,
                            PageResponseCode code) = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOMMU_IOPF_H_
