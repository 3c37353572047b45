// Violation kinds and the structured violation record.
//
// A violation is a value: what went wrong (kind), when (virtual time), who
// did it (agent), what it touched (a frame or a tracked kernel object), where
// that thing was allocated and freed, and a sentence for humans. The kinds are
// those of ../shared/DESIGN.md, "Physical memory and the checker".
//
// Thread-safety: value types, thread-compatible.
#ifndef SVAEMU_CHECK_VIOLATION_H_
#define SVAEMU_CHECK_VIOLATION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "svaemu/base/agent.h"
#include "svaemu/base/strong_types.h"

namespace svaemu::check {

enum class ViolationKind : uint8_t {
  // A hardware walk read a frame that is free.
  kWalkThroughFreedFrame,
  // A hardware walk read a frame that was freed and reallocated: it is now
  // data, or a page table of another address space or level.
  kWalkThroughReusedFrame,
  // A hardware A/D (AF/DBM) update wrote a frame that is not a page table.
  kAdWriteToNonTableFrame,
  // Device DMA reached a frame mapped in another process's address space.
  kCrossMmDma,
  // Device DMA reached a frame not mapped in its domain at all.
  kDmaOutsideDomain,
  // Hardware used a PASID after it was freed or reassigned.
  kPasidUseAfterFree,
  // A freed (quarantined) kernel object was used.
  kKernelObjectUseAfterFree,
  // A stalled transaction or page request was never answered.
  kFaultNeverAnswered,
  // A stalled transaction or page request was answered more than once.
  kFaultAnsweredTwice,
  // A frame was freed twice.
  kDoubleFree,
  // A frame that was never allocated was freed.
  kFreeOfUnallocatedFrame,
};

inline constexpr int kNumViolationKinds = 11;

// Stable snake_case name: "walk_through_freed_frame".
const char* ViolationKindName(ViolationKind k);

// Where something happened: virtual time and a site tag. `tag` points to a
// string with static storage duration ("vmap_try_huge_pmd", "exit_mmap").
struct Site {
  uint64_t time = 0;
  const char* tag = nullptr;
  bool valid() const { return tag != nullptr; }
};

struct Violation {
  ViolationKind kind{};
  uint64_t time = 0;  // virtual cycles
  Agent agent{};
  std::optional<PhysAddr> frame;  // frame base, for frame violations
  std::string object;             // tracked kernel object, e.g. "master_domain#3"
  Site alloc;                     // last allocation of the frame or object
  Site free;                      // last free of the frame or object
  std::string text;               // one sentence
};

// Multi-line report: kind, time, agent, frame/object, sites, text.
std::string FormatViolation(const Violation& v);

}  // namespace svaemu::check

#endif  // SVAEMU_CHECK_VIOLATION_H_
