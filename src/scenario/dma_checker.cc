#include "svaemu/scenario/dma_checker.h"

#include "absl/strings/str_cat.h"
#include "svaemu/kernel/kernel_space.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::scenario {

void DmaChecker::Watch(hw::pci::Endpoint& ep) {
  const uint16_t device = ep.config().index;
  ep.set_issue_observer(
      [this, device](const hw::pci::DmaRecord& r) { OnIssue(device, r); });
  ep.set_access_observer([this](const hw::pci::DmaAccess& a) { OnAccess(a); });
}

void DmaChecker::Expect(const hw::pci::Endpoint& ep, Pasid pasid,
                        kernel::Mm* mm) {
  expected_[{ep.config().index, pasid.value()}] = mm;
}

void DmaChecker::Forget(const hw::pci::Endpoint& ep, Pasid pasid) {
  expected_.erase({ep.config().index, pasid.value()});
}

void DmaChecker::Report(check::ViolationKind kind, uint16_t device,
                        std::optional<PhysAddr> frame, std::string text) {
  check::Violation v;
  v.kind = kind;
  v.time = sim_.now();
  v.agent = Agent::Device(device);
  v.frame = frame;
  if (frame) {
    const mem::FrameMeta& m = mem_.Meta(*frame);
    v.alloc = m.alloc;
    v.free = m.free;
  }
  v.text = std::move(text);
  sim_.violations().Report(std::move(v));
}

void DmaChecker::OnIssue(uint16_t device, const hw::pci::DmaRecord& rec) {
  if (!rec.pasid) return;
  auto it = expected_.find({device, rec.pasid->value()});
  if (it == expected_.end()) return;
  ++issues_;
  kernel::Mm* owner = sva_.PasidOwner(*rec.pasid);
  if (owner == it->second) return;
  Report(check::ViolationKind::kPasidUseAfterFree, device, std::nullopt,
         absl::StrCat("DMA on PASID ", rec.pasid->value(), " for ",
                      it->second->name(), ", but the PASID is ",
                      owner == nullptr ? std::string("free")
                                       : "now " + owner->name() + "'s"));
}

void DmaChecker::OnAccess(const hw::pci::DmaAccess& a) {
  if (!a.pasid) return;
  auto it = expected_.find({a.device, a.pasid->value()});
  if (it == expected_.end()) return;
  ++accesses_;
  const kernel::Mm* mm = it->second;
  const PhysAddr frame = a.pa.AlignDown(kPageSize4K);
  const mem::FrameMeta& m = mem_.Meta(frame);
  if (m.use == mem::FrameUse::kData &&
      (m.space == mm->space() || m.space == kernel::kKernelSpaceId)) {
    return;
  }
  if (m.use == mem::FrameUse::kData && m.space != kNoSpace) {
    Report(check::ViolationKind::kCrossMmDma, a.device, frame,
           absl::StrCat("DMA ", a.write ? "write" : "read", " at ",
                        Hex(a.addr.value()), " for ", mm->name(),
                        " reached a frame of space ", m.space.value()));
    return;
  }
  Report(check::ViolationKind::kDmaOutsideDomain, a.device, frame,
         absl::StrCat("DMA ", a.write ? "write" : "read", " at ",
                      Hex(a.addr.value()), " for ", mm->name(),
                      " reached a frame that is ", mem::DescribeFrame(m)));
}

}  // namespace svaemu::scenario
