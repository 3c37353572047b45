#include "svaemu/mem/frame_allocator.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "svaemu/base/check.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::mem {

FrameAllocator::FrameAllocator(PhysMem& mem, FrameAllocatorConfig config)
    : mem_(mem),
      base_(config.base.AlignUp(PhysMem::kFrameSize)),
      end_(config.size_bytes == 0
               ? PhysAddr(mem.size())
               : PhysAddr(std::min(mem.size(),
                                   config.base.value() + config.size_bytes))),
      bump_(base_),
      reuse_(config.reuse) {
  SVAEMU_CHECK_MSG(base_ < end_, "frame allocator range is empty");
}

absl::StatusOr<PhysAddr> FrameAllocator::Take(const char* site) {
  if (!free_.empty()) {
    PhysAddr f;
    switch (reuse_) {
      case ReusePolicy::kLifo:
        f = free_.back();
        free_.pop_back();
        break;
      case ReusePolicy::kFifo:
        f = free_.front();
        free_.pop_front();
        break;
      case ReusePolicy::kRandom: {
        const uint64_t i = mem_.sim().rng().Uniform(free_.size());
        f = free_[i];
        free_[i] = free_.back();
        free_.pop_back();
        break;
      }
    }
    return f;
  }
  if (bump_ >= end_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of physical frames allocating for ", site));
  }
  PhysAddr f = bump_;
  bump_ += PhysMem::kFrameSize;
  return f;
}

void FrameAllocator::MarkAllocated(PhysAddr f, FrameUse use, SpaceId owner,
                                   const char* site) {
  FrameMeta& m = mem_.MutableMeta(f);
  m.use = use;
  m.space = owner;
  m.level = 0;
  m.flags = 0;
  m.va_base = VirtAddr(0);
  ++m.generation;
  m.alloc = check::Site{mem_.sim().now(), site};
  ++allocated_;
}

absl::StatusOr<PhysAddr> FrameAllocator::Allocate(FrameUse use,
                                                  const char* site,
                                                  SpaceId owner, bool zero) {
  if (use == FrameUse::kFree || use == FrameUse::kUntracked ||
      use == FrameUse::kPageTable) {
    return absl::InvalidArgumentError(
        absl::StrCat("Allocate() cannot allocate a frame for use '",
                     FrameUseName(use), "'"));
  }
  absl::StatusOr<PhysAddr> f = Take(site);
  if (!f.ok()) return f;
  MarkAllocated(*f, use, owner, site);
  if (zero) mem_.ZeroFrame(*f);
  return f;
}

absl::StatusOr<PhysAddr> FrameAllocator::AllocatePageTable(
    const PageTableTag& tag, const char* site) {
  absl::StatusOr<PhysAddr> f = Take(site);
  if (!f.ok()) return f;
  MarkAllocated(*f, FrameUse::kPageTable, tag.space, site);
  Retag(*f, tag);
  mem_.ZeroFrame(*f);
  return f;
}

absl::StatusOr<PhysAddr> FrameAllocator::AllocateContiguous(
    uint64_t count, uint64_t align_bytes, FrameUse use, const char* site,
    SpaceId owner) {
  if (count == 0 || align_bytes < PhysMem::kFrameSize ||
      (align_bytes & (align_bytes - 1)) != 0 || use == FrameUse::kFree ||
      use == FrameUse::kUntracked) {
    return absl::InvalidArgumentError(
        "AllocateContiguous() needs count > 0, a power-of-two alignment of "
        "at least 4 KiB, and a live use");
  }
  const PhysAddr start = bump_.AlignUp(align_bytes);
  if (start >= end_ || (end_ - start) / PhysMem::kFrameSize < count) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no ", count, " contiguous frames left for ", site));
  }
  // Frames skipped for alignment are never-used memory; keep them usable.
  for (PhysAddr f = bump_; f < start; f += PhysMem::kFrameSize) {
    free_.push_front(f);
  }
  bump_ = start + count * PhysMem::kFrameSize;
  for (uint64_t i = 0; i < count; ++i) {
    PhysAddr f = start + i * PhysMem::kFrameSize;
    MarkAllocated(f, use, owner, site);
    if (use == FrameUse::kPageTable) mem_.ZeroFrame(f);
  }
  return start;
}

void FrameAllocator::Retag(PhysAddr frame, const PageTableTag& tag) {
  FrameMeta& m = mem_.MutableMeta(frame);
  m.use = FrameUse::kPageTable;
  m.space = tag.space;
  m.level = tag.level;
  m.flags = tag.flags;
  m.va_base = tag.va_base;
}

void FrameAllocator::Free(PhysAddr frame, const char* site, Agent agent) {
  frame = frame.AlignDown(PhysMem::kFrameSize);
  const FrameMeta& cur = mem_.Meta(frame);
  const bool managed = Manages(frame);
  if (!managed || cur.use == FrameUse::kUntracked ||
      cur.use == FrameUse::kFree) {
    check::Violation v;
    v.time = mem_.sim().now();
    v.agent = agent;
    v.frame = frame;
    v.alloc = cur.alloc;
    v.free = cur.free;
    if (managed && cur.use == FrameUse::kFree) {
      v.kind = check::ViolationKind::kDoubleFree;
      v.text = absl::StrCat("frame ", Hex(frame.value()), " freed again at ",
                            site);
    } else {
      v.kind = check::ViolationKind::kFreeOfUnallocatedFrame;
      v.text = absl::StrCat("frame ", Hex(frame.value()),
                            " was never allocated; freed at ", site);
    }
    mem_.sim().violations().Report(std::move(v));
    return;
  }
  FrameMeta& m = mem_.MutableMeta(frame);
  m.use = FrameUse::kFree;
  m.free = check::Site{mem_.sim().now(), site};
  // Keep space/level/va_base: they describe what the frame last was, which
  // the violation report for a stale walk wants to say.
  --allocated_;
  free_.push_back(frame);
}

}  // namespace svaemu::mem
