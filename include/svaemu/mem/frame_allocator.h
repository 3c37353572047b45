// FrameAllocator: hands out 4 KiB frames of PhysMem, tagged by purpose.
//
// Freed frames are reused LIFO by default, so a page-table page that the
// kernel frees is the very next frame handed out — what an attacker spraying
// allocations would arrange. FIFO and seeded-random reuse are selectable.
// Frames never handed out come from a bump pointer over the managed range.
//
// Each allocation and free writes the frame shadow (use, owner space, level,
// virtual range, site, time). Freeing a frame twice reports kDoubleFree;
// freeing a frame that was never allocated reports kFreeOfUnallocatedFrame.
// Neither aborts: these are bugs of the modelled kernel, not of the emulator.
//
// Page tables are zeroed on allocation (as pte_alloc() and friends do);
// other frames are zeroed only when asked, so a reused frame keeps whatever
// the last owner left in it unless the new owner writes it.
//
// Example:
//   mem::FrameAllocator alloc(mem, {.base = PhysAddr(1 << 20)});
//   absl::StatusOr<PhysAddr> pt = alloc.AllocatePageTable(
//       {.space = SpaceId(1), .level = 1, .va_base = VirtAddr(0)}, "pte_alloc");
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_MEM_FRAME_ALLOCATOR_H_
#define SVAEMU_MEM_FRAME_ALLOCATOR_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/statusor.h"
#include "svaemu/base/agent.h"
#include "svaemu/mem/phys_mem.h"

namespace svaemu::mem {

enum class ReusePolicy { kLifo, kFifo, kRandom };

struct FrameAllocatorConfig {
  PhysAddr base{1ull << 20};  // first managed frame (the first MiB is left
                              // to firmware-style fixed structures)
  uint64_t size_bytes = 0;    // 0: up to the end of PhysMem
  ReusePolicy reuse = ReusePolicy::kLifo;
};

struct PageTableTag {
  SpaceId space = kNoSpace;
  uint8_t level = 1;       // 1 = last-level table
  VirtAddr va_base;        // first VA this table translates
  uint8_t flags = 0;       // kFrameShared, kFrameRoot
};

class FrameAllocator {
 public:
  FrameAllocator(PhysMem& mem, FrameAllocatorConfig config = {});
  FrameAllocator(const FrameAllocator&) = delete;
  FrameAllocator& operator=(const FrameAllocator&) = delete;

  // One frame for `use` (not kPageTable: use AllocatePageTable; not
  // kFree/kUntracked: InvalidArgument). ResourceExhausted when none is left.
  absl::StatusOr<PhysAddr> Allocate(FrameUse use, const char* site,
                                    SpaceId owner = kNoSpace,
                                    bool zero = false);
  absl::StatusOr<PhysAddr> AllocatePageTable(const PageTableTag& tag,
                                             const char* site);
  // `count` physically contiguous frames aligned to `align_bytes` (a power of
  // two, >= 4 KiB), taken from never-used memory. For huge mappings.
  absl::StatusOr<PhysAddr> AllocateContiguous(uint64_t count,
                                              uint64_t align_bytes,
                                              FrameUse use, const char* site,
                                              SpaceId owner = kNoSpace);

  // Frees one frame. Double free / never-allocated free are violations
  // reported by `agent` and leave the allocator's state unchanged.
  void Free(PhysAddr frame, const char* site, Agent agent = Agent::Cpu());

  // Retags a live frame (e.g. a page-table page whose range changes).
  void Retag(PhysAddr frame, const PageTableTag& tag);

  bool Manages(PhysAddr pa) const {
    return pa >= base_ && pa < end_;
  }
  uint64_t allocated_frames() const { return allocated_; }
  uint64_t free_list_size() const { return free_.size(); }
  PhysMem& mem() { return mem_; }

 private:
  absl::StatusOr<PhysAddr> Take(const char* site);
  void MarkAllocated(PhysAddr f, FrameUse use, SpaceId owner, const char* site);

  PhysMem& mem_;
  PhysAddr base_;
  PhysAddr end_;
  PhysAddr bump_;
  ReusePolicy reuse_;
  std::deque<PhysAddr> free_;
  uint64_t allocated_ = 0;
};

}  // namespace svaemu::mem

#endif  // SVAEMU_MEM_FRAME_ALLOCATOR_H_
