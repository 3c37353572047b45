#include "svaemu/check/violation.h"

#include "absl/strings/str_cat.h"

namespace svaemu::check {

const char* ViolationKindName(ViolationKind k) {
  switch (k) {
    case ViolationKind::kWalkThroughFreedFrame: return "walk_through_freed_frame";
    case ViolationKind::kWalkThroughReusedFrame: return "walk_through_reused_frame";
    case ViolationKind::kAdWriteToNonTableFrame: return "ad_write_to_non_table_frame";
    case ViolationKind::kCrossMmDma: return "cross_mm_dma";
    case ViolationKind::kDmaOutsideDomain: return "dma_outside_domain";
    case ViolationKind::kPasidUseAfterFree: return "pasid_use_after_free";
    case ViolationKind::kKernelObjectUseAfterFree: return "kernel_object_use_after_free";
    case ViolationKind::kFaultNeverAnswered: return "fault_never_answered";
    case ViolationKind::kFaultAnsweredTwice: return "fault_answered_twice";
    case ViolationKind::kDoubleFree: return "double_free";
    case ViolationKind::kFreeOfUnallocatedFrame: return "free_of_unallocated_frame";
  }
  return "unknown";
}

namespace {
std::string FormatSite(const Site& s) {
  if (!s.valid()) return "-";
  return absl::StrCat(s.tag, " @", s.time);
}
}  // namespace

std::string FormatViolation(const Violation& v) {
  std::string out = absl::StrCat("violation ", ViolationKindName(v.kind),
                                 " at cycle ", v.time, " by ",
                                 AgentName(v.agent), "\n");
  if (v.frame) absl::StrAppend(&out, "  frame:     ", Hex(v.frame->value()), "\n");
  if (!v.object.empty()) absl::StrAppend(&out, "  object:    ", v.object, "\n");
  absl::StrAppend(&out, "  allocated: ", FormatSite(v.alloc), "\n");
  absl::StrAppend(&out, "  freed:     ", FormatSite(v.free), "\n");
  absl::StrAppend(&out, "  ", v.text);
  return out;
}

}  // namespace svaemu::check
