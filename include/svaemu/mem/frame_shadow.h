// The frame shadow: what each 4 KiB frame of emulated memory is, now.
//
// Each frame has a FrameMeta: its current use (free, page table of address
// space X at level L, data, queue, IOMMU table, kernel object) and the site
// and virtual time of its last allocation and free. PhysMem keeps one per
// frame beside the frame's bytes; the FrameAllocator writes it; the checker
// in PhysMem reads it on every page-table walk and A/D update.
//
// Frames that the allocator never handed out are kUntracked: the checker
// says nothing about them, so a simulator that manages its own memory
// without our allocator gets no false reports.
//
// Page-table frames also record the virtual range they translate
// (va_base, with the level's coverage), so reuse of a table page for another
// range of the same address space is caught as well as reuse for data.
#ifndef SVAEMU_MEM_FRAME_SHADOW_H_
#define SVAEMU_MEM_FRAME_SHADOW_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "svaemu/base/strong_types.h"
#include "svaemu/check/violation.h"

namespace svaemu::mem {

enum class FrameUse : uint8_t {
  kUntracked,    // never allocated by the FrameAllocator: not checked
  kFree,         // allocated once, now free
  kPageTable,    // a paging-structure page (space, level, va_base)
  kData,         // ordinary data (space = owner, if any)
  kQueue,        // a hardware queue (command, event, fault, page request)
  kIommuTable,   // IOMMU configuration (root/context/PASID table, STE, CD)
  kKernelObject, // backing store of a tracked kernel object
};

const char* FrameUseName(FrameUse u);

// FrameMeta::flags.
inline constexpr uint8_t kFrameShared = 1 << 0;  // page table shared into
                                                 // every space (kernel half)
inline constexpr uint8_t kFrameRoot = 1 << 1;    // root of its tree: covers
                                                 // the whole space

// The first eight bytes (use, level, flags, pad, space) are the "head",
// which the checker compares as one word (FrameMetaHead).
struct FrameMeta {
  FrameUse use = FrameUse::kUntracked;
  uint8_t level = 0;  // page-table level, 1 = last-level table
  uint8_t flags = 0;
  uint8_t pad = 0;    // always 0: keeps every byte of the head defined
  SpaceId space = kNoSpace;
  VirtAddr va_base;  // first VA translated through this table
  uint32_t generation = 0;  // allocation count of this frame
  check::Site alloc;
  check::Site free;
};

// The head of a FrameMeta as one 64-bit word, and words built from field
// values with the same layout, so that a check of use, level and space is
// one masked compare. Byte order is the host's: only words built here are
// compared with each other.
namespace internal {
struct FrameMetaHeadFields {
  FrameUse use;
  uint8_t level;
  uint8_t flags;
  uint8_t pad;
  SpaceId space;
};
}  // namespace internal
static_assert(sizeof(internal::FrameMetaHeadFields) == 8);
static_assert(std::is_standard_layout_v<FrameMeta>);
static_assert(offsetof(FrameMeta, use) == 0 && offsetof(FrameMeta, level) == 1 &&
              offsetof(FrameMeta, flags) == 2 && offsetof(FrameMeta, pad) == 3 &&
              offsetof(FrameMeta, space) == 4 && sizeof(SpaceId) == 4);

inline uint64_t FrameMetaHead(const FrameMeta& m) {
  uint64_t w;
  std::memcpy(&w, &m, sizeof w);
  return w;
}
constexpr uint64_t FrameMetaHeadOf(FrameUse use, uint8_t level, uint8_t flags,
                                   SpaceId space) {
  return std::bit_cast<uint64_t>(
      internal::FrameMetaHeadFields{use, level, flags, 0, space});
}
constexpr uint64_t FrameMetaHeadLevel(uint8_t level) {
  return FrameMetaHeadOf(FrameUse::kUntracked, level, 0, kNoSpace);
}
constexpr uint64_t FrameMetaHeadFlag(uint8_t flag) {
  return FrameMetaHeadOf(FrameUse::kUntracked, 0, flag, kNoSpace);
}
inline constexpr uint64_t kFrameMetaHeadUseMask =
    FrameMetaHeadOf(static_cast<FrameUse>(0xff), 0, 0, kNoSpace);
// Use and level, and space too when `with_space`.
constexpr uint64_t FrameMetaHeadUseLevelMask(bool with_space) {
  return FrameMetaHeadOf(static_cast<FrameUse>(0xff), 0xff, 0,
                         with_space ? SpaceId(0xffffffffu) : kNoSpace);
}

// "page table (space 3, level 1, va 0xffffc90000000000)".
std::string DescribeFrame(const FrameMeta& m);

}  // namespace svaemu::mem

#endif  // SVAEMU_MEM_FRAME_SHADOW_H_
