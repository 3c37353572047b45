#include "svaemu/kernel/iopf/iopf_queue.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "svaemu/kernel/iommu/ops.h"
#include "svaemu/kernel/mm.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

IopfQueue::IopfQueue(sim::Simulation& sim, std::string name)
    : sim_(sim), name_(std::move(name)), wq_(sim, name_) {}

IopfQueue::~IopfQueue() = default;

absl::Status IopfQueue::AddDevice(Device& dev) {
  if (dev.iopf_queue() != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat(dev.name(), " is already on an IOPF queue"));
  }
  devices_.push_back(DeviceState{&dev, {}});
  dev.set_iopf_queue(this);
  return absl::OkStatus();
}

absl::Status IopfQueue::RemoveDevice(Device& dev) {
  auto it = std::find_if(devices_.begin(), devices_.end(),
                         [&](const DeviceState& d) { return d.dev == &dev; });
  if (it == devices_.end()) {
    return absl::NotFoundError(absl::StrCat(dev.name(), " is not on ", name_));
  }
  devices_.erase(it);  // partial faults go with it
  // Pending groups are answered, not left to a worker that would find the
  // device gone.
  std::vector<uint64_t> ids;
  for (Group& g : groups_) {
    if (g.dev == &dev) ids.push_back(g.id);
  }
  for (uint64_t id : ids) {
    auto g = std::find_if(groups_.begin(), groups_.end(),
                          [&](const Group& x) { return x.id == id; });
    wq_.Cancel(g->work.get());
    Respond(*g, PageResponseCode::kInvalid);
    Erase(id);
  }
  dev.set_iopf_queue(nullptr);
  return absl::OkStatus();
}

IopfQueue::DeviceState* IopfQueue::Find(const FaultSource& src) {
  for (DeviceState& d : devices_) {
    if (d.dev->id() == src) return &d;
  }
  return nullptr;
}

size_t IopfQueue::partial() const {
  size_t n = 0;
  for (const DeviceState& d : devices_) n += d.partial.size();
  return n;
}

void IopfQueue::ReportFault(const FaultSource& src, const IopfFault& fault) {
  DeviceState* d = Find(src);
  if (d == nullptr) {
    // No iopf_param: iommu_report_device_fault() fails and the driver,
    // which still owns the fault, answers it itself.
    ++unroutable_;
    sim_.Trace("iopf", "unroutable", absl::StrCat("unit=", src.unit, " rid=",
                                                   src.rid.value()));
    return;
  }
  if ((fault.flags & kIopfLastPage) == 0) {
    d->partial.push_back(fault);
    return;
  }
  Group& g = groups_.emplace_back();
  g.id = next_group_++;
  g.dev = d->dev;
  // The group: every partial fault of this grpid, then the last one.
  auto split = std::stable_partition(
      d->partial.begin(), d->partial.end(),
      [&](const IopfFault& f) { return f.grpid != fault.grpid; });
  g.faults.assign(split, d->partial.end());
  d->partial.erase(split, d->partial.end());
  g.faults.push_back(fault);
  ++groups_reported_;
  sim_.Trace("iopf", "report",
             absl::StrCat(g.dev->name(), " grp=", fault.grpid, " pasid=",
                          fault.pasid.value(), " addr=", Hex(fault.addr.value())));

  // find_fault_handler(): PASID first, then the RID attachment.
  AttachHandle* h = nullptr;
  if (fault.flags & kIopfPasidValid) h = g.dev->handle(fault.pasid);
  if (h == nullptr) h = g.dev->handle(Pasid(0));
  if (h == nullptr || h->domain()->type() != DomainType::kSva) {
    Respond(g, PageResponseCode::kInvalid);
    Erase(g.id);
    return;
  }
  g.handle = h;
  g.domain = h->domain();
  // iommu_sva_iopf_handler(): hand the group to the workqueue.
  const uint64_t id = g.id;
  g.work = std::make_unique<sim::WorkItem>([this, id] {
    auto it = std::find_if(groups_.begin(), groups_.end(),
                           [&](const Group& x) { return x.id == id; });
    if (it == groups_.end()) return;
    Handle(*it);
    Erase(id);
  });
  wq_.Queue(g.work.get());
}

void IopfQueue::Handle(Group& g) {
  const Agent cpu = Agent::Cpu();
  if (!g.handle->Use(cpu, "iopf worker (group->attach_handle)") ||
      !g.domain->Use(cpu, "iopf worker (group->domain)")) {
    Respond(g, PageResponseCode::kInvalid);
    return;
  }
  Mm* mm = g.domain->mm();
  PageResponseCode code = PageResponseCode::kSuccess;
  for (const IopfFault& f : g.faults) {
    // iommu_sva_handle_mm(): the mm may have exited under us.
    if (!mm->GetNotZero()) {
      code = PageResponseCode::kInvalid;
      break;
    }
    arch::AccessType access;
    access.write = (f.perm & kIopfPermWrite) != 0;
    access.exec = (f.perm & kIopfPermExec) != 0;
    access.user = (f.perm & kIopfPermPriv) == 0;
    const FaultResult r = mm->HandleFault(f.addr, access);
    (void)mm->Put();
    if (r != FaultResult::kHandled) {
      code = PageResponseCode::kInvalid;
      break;
    }
  }
  Respond(g, code);
}

void IopfQueue::Respond(Group& g, PageResponseCode code) {
  if (g.answered) {
    check::Violation v;
    v.kind = check::ViolationKind::kFaultAnsweredTwice;
    v.time = sim_.now();
    v.agent = Agent::Cpu();
    v.text = absl::StrCat("IOPF group ", g.id, " of ", g.dev->name(),
                          " answered twice");
    sim_.violations().Report(std::move(v));
    return;
  }
  g.answered = true;
  ++responses_;
  sim_.Trace("iopf", "respond",
             absl::StrCat(g.dev->name(), " grp=", g.faults.back().grpid,
                          " code=", static_cast<int>(code)));
  g.dev->ops()->PageResponse(g.dev->id(), g.faults.back(), code);
}

void IopfQueue::Erase(uint64_t id) {
  groups_.remove_if([&](const Group& g) { return g.id == id; });
}

void IopfQueue::FlushDevice(Device& dev) {
  sim_.Trace("iopf", "flush_dev", dev.name());
  // flush_workqueue(): the queue is shared by the unit's devices, and
  // Linux flushes all of it.
  (void)dev;
  wq_.Flush();
}

void IopfQueue::DiscardPartial() {
  for (DeviceState& d : devices_) d.partial.clear();
}

int IopfQueue::CheckAllAnswered() {
  int n = 0;
  for (const Group& g : groups_) {
    if (g.answered) continue;
    check::Violation v;
    v.kind = check::ViolationKind::kFaultNeverAnswered;
    v.time = sim_.now();
    v.agent = Agent::Cpu();
    v.text = absl::StrCat("IOPF group ", g.id, " of ", g.dev->name(),
                          " (grpid ", g.faults.back().grpid,
                          ") was never answered");
    sim_.violations().Report(std::move(v));
    ++n;
  }
  return n;
}

}  // namespace svaemu::kernel
