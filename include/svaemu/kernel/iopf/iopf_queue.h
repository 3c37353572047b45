// IopfQueue: the IO page-fault core (Linux drivers/iommu/io-pgfault.c and
// the SVA handler of iommu-sva.c) for the devices of one IOMMU unit.
//
// Rules, each tested:
//  - ReportFault() (iommu_report_device_fault): a fault without kIopfLastPage
//    waits on the device's partial list; the last-page fault closes the
//    group: every partial fault with the same grpid plus itself.
//  - The handler is found through the attach handle: PASID first (when
//    kIopfPasidValid), then the RID attachment (PASID 0). No handle, or a
//    domain without a fault handler, is answered kInvalid at once.
//  - An SVA domain's handler queues the group on the queue's workqueue; the
//    worker resolves each fault with the mm's fault handler, taking
//    mm_users only if it is not zero (mmget_not_zero), and answers kSuccess
//    if all were resolved, else kInvalid.
//  - Exactly one response per reported group, through the device's
//    driver (IommuOps::PageResponse). The queue counts groups and answers;
//    CheckAllAnswered() reports kFaultNeverAnswered for any group left.
//  - FlushDevice() (iopf_queue_flush_dev): every group of that device
//    queued before the call has been handled and answered on return.
//  - DiscardPartial() (iopf_queue_discard_partial): after a hardware page
//    request queue overflow, partial faults are dropped (their groups can
//    never complete; the hardware already answered them).
//  - RemoveDevice() (iopf_queue_remove_device): partial faults dropped,
//    groups still pending answered kInvalid.
// The worker touches the attach handle and the domain of its group through
// KObject::Use(): if either was freed before it ran (a detach without the
// drain of seed 3), that is reported as kKernelObjectUseAfterFree and the
// group is answered kInvalid instead of being handled.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_IOPF_IOPF_QUEUE_H_
#define SVAEMU_KERNEL_IOPF_IOPF_QUEUE_H_

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "svaemu/kernel/iommu/device.h"
#include "svaemu/kernel/iommu/iopf.h"
#include "svaemu/sim/workqueue.h"

namespace svaemu::kernel {

class IommuOps;

class IopfQueue : public IopfSink {
 public:
  IopfQueue(sim::Simulation& sim, std::string name);
  ~IopfQueue() override;
  IopfQueue(const IopfQueue&) = delete;
  IopfQueue& operator=(const IopfQueue&) = delete;

  // iopf_queue_add_device(): AlreadyExists if added (here or elsewhere).
  absl::Status AddDevice(Device& dev);
  // iopf_queue_remove_device(): NotFound if not added here.
  absl::Status RemoveDevice(Device& dev);

  void ReportFault(const FaultSource& src, const IopfFault& fault) override;
  void FlushDevice(Device& dev);
  void DiscardPartial();
  // Reports kFaultNeverAnswered for each group still unanswered; returns
  // how many.
  int CheckAllAnswered();

  uint64_t groups_reported() const { return groups_reported_; }
  uint64_t responses() const { return responses_; }
  size_t outstanding() const { return groups_.size(); }
  size_t partial() const;
  uint64_t unroutable() const { return unroutable_; }
  const std::string& name() const { return name_; }

 private:
  struct Group {
    uint64_t id = 0;
    Device* dev = nullptr;
    std::vector<IopfFault> faults;  // the last one has kIopfLastPage
    AttachHandle* handle = nullptr;
    Domain* domain = nullptr;
    std::unique_ptr<sim::WorkItem> work;
    bool answered = false;
  };
  struct DeviceState {
    Device* dev;
    std::vector<IopfFault> partial;
  };

  DeviceState* Find(const FaultSource& src);
  void Respond(Group& g, PageResponseCode code);
  void Handle(Group& g);  // iommu_sva_handle_iopf()
  void Erase(uint64_t id);

  sim::Simulation& sim_;
  std::string name_;
  sim::Workqueue wq_;
  std::vector<DeviceState> devices_;
  std::list<Group> groups_;  // pending, in report order
  uint64_t next_group_ = 1;
  uint64_t groups_reported_ = 0;
  uint64_t responses_ = 0;
  uint64_t unroutable_ = 0;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_IOPF_IOPF_QUEUE_H_
