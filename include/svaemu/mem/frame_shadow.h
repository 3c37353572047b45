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

#include <cstdint>
#include <string>

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

struct FrameMeta {
  FrameUse use = FrameUse::kUntracked;
  uint8_t level = 0;  // page-table level, 1 = last-level table
  uint8_t flags = 0;
  SpaceId space = kNoSpace;
  VirtAddr va_base;  // first VA translated through this table
  uint32_t generation = 0;  // allocation count of this frame
  check::Site alloc;
  check::Site free;
};

// "page table (space 3, level 1, va 0xffffc90000000000)".
std::string DescribeFrame(const FrameMeta& m);

}  // namespace svaemu::mem

#endif  // SVAEMU_MEM_FRAME_SHADOW_H_
