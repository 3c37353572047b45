// PhysMem: sparse emulated physical memory of 4 KiB frames, with the checker.
//
// The physical address space is configurable (default 64 GiB); an untouched
// frame costs nothing and reads as zero. Reads and writes are little-endian,
// 8/16/32/64 bits, at any alignment (an access that crosses a frame is split
// into bytes); CompareExchange64 is the hardware's atomic update of a paging
// entry. Every access carries an Access: the agent, the purpose, and for
// page-table walks the level, the address space and the virtual address the
// walker believes it is translating.
//
// An access outside the physical address space does not crash: reads return
// all-ones (a PCIe master abort) and report false; writes are dropped and
// report false. The hardware model that issued it turns that into its own
// fault (F_WALK_EABT, a VT-d fault reason).
//
// Checker: with checking on (default), a kPageTableWalk read of a tracked
// frame that is free, or that is no longer a page table of the expected
// space, level and range, reports kWalkThroughFreedFrame or
// kWalkThroughReusedFrame; a kAdUpdate write (or compare-exchange) into a
// tracked frame that is not such a page table reports
// kAdWriteToNonTableFrame. One report per offending access.
//
// Thread-safety: thread-compatible. Reads of frames that already exist never
// allocate; the first write to a frame (or region) allocates its storage.
#ifndef SVAEMU_MEM_PHYS_MEM_H_
#define SVAEMU_MEM_PHYS_MEM_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "svaemu/base/agent.h"
#include "svaemu/base/bits.h"
#include "svaemu/base/strong_types.h"
#include "svaemu/mem/frame_shadow.h"

namespace svaemu::sim {
class Simulation;
}

namespace svaemu::mem {

struct Access {
  Agent agent;
  Purpose purpose = Purpose::kData;
  uint8_t level = 0;         // walks/A-D: paging level of the entry
  SpaceId space = kNoSpace;  // walks/A-D: space the walker is translating
  VirtAddr va;               // walks/A-D: address being translated

  static Access Cpu(Purpose p = Purpose::kData) {
    Access a;
    a.agent = Agent::Cpu();
    a.purpose = p;
    return a;
  }
};

struct PhysMemConfig {
  uint64_t size_bytes = 64ull << 30;
  bool check_walks = true;
};

enum class CasResult { kSwapped, kMismatch, kAbort };

class PhysMem {
 public:
  static constexpr uint64_t kFrameSize = kPageSize4K;

  PhysMem(sim::Simulation& sim, PhysMemConfig config = {});
  ~PhysMem();
  PhysMem(const PhysMem&) = delete;
  PhysMem& operator=(const PhysMem&) = delete;

  uint64_t size() const { return size_; }
  bool Contains(PhysAddr pa, uint64_t len = 1) const {
    return len <= size_ && pa.value() <= size_ - len;
  }
  sim::Simulation& sim() const { return sim_; }
  void set_check_walks(bool on) { check_walks_ = on; }

  // Reads. On an address outside memory: *out = all ones, returns false.
  bool Read8(PhysAddr pa, const Access& a, uint8_t* out);
  bool Read16(PhysAddr pa, const Access& a, uint16_t* out);
  bool Read32(PhysAddr pa, const Access& a, uint32_t* out);
  inline bool Read64(PhysAddr pa, const Access& a, uint64_t* out);
  // Convenience forms: all ones on abort.
  uint64_t Read64(PhysAddr pa, const Access& a) {
    uint64_t v;
    Read64(pa, a, &v);
    return v;
  }
  uint32_t Read32(PhysAddr pa, const Access& a) {
    uint32_t v;
    Read32(pa, a, &v);
    return v;
  }

  // Writes. Dropped (returns false) outside memory.
  bool Write8(PhysAddr pa, uint8_t v, const Access& a);
  bool Write16(PhysAddr pa, uint16_t v, const Access& a);
  bool Write32(PhysAddr pa, uint32_t v, const Access& a);
  bool Write64(PhysAddr pa, uint64_t v, const Access& a);

  // Atomic 64-bit compare-exchange of a naturally aligned word. On
  // kMismatch, *expected receives the current value.
  CasResult CompareExchange64(PhysAddr pa, uint64_t* expected,
                              uint64_t desired, const Access& a);

  bool ReadBytes(PhysAddr pa, std::span<uint8_t> out, const Access& a);
  bool WriteBytes(PhysAddr pa, std::span<const uint8_t> in, const Access& a);
  // Zeroes a whole frame (pa is rounded down to its frame).
  void ZeroFrame(PhysAddr pa);

  // Frame shadow. Meta() of an untouched frame is a default (kUntracked)
  // FrameMeta. MutableMeta() is for the FrameAllocator.
  const FrameMeta& Meta(PhysAddr pa) const;
  FrameMeta& MutableMeta(PhysAddr pa);

  // Number of frames whose bytes have storage (touched by a write).
  uint64_t resident_frames() const { return resident_frames_; }

 private:
  // Two-level sparse table: a region is 4096 frames (16 MiB). A region's
  // metadata is allocated with the region; a frame's 4 KiB of bytes on its
  // first write.
  static constexpr unsigned kRegionShift = 24;
  static constexpr uint64_t kFramesPerRegion = 1ull << (kRegionShift - 12);
  struct Region {
    std::array<std::unique_ptr<uint8_t[]>, kFramesPerRegion> bytes;
    std::array<FrameMeta, kFramesPerRegion> meta;
  };

  // Fast path: frame bytes for reading, or nullptr if untouched.
  const uint8_t* FrameForRead(uint64_t pa) const {
    const Region* r = regions_[pa >> kRegionShift].get();
    if (r == nullptr) return nullptr;
    return r->bytes[(pa >> 12) & (kFramesPerRegion - 1)].get();
  }
  uint8_t* FrameForWrite(uint64_t pa);
  Region& RegionFor(uint64_t pa);

  bool Read64Slow(PhysAddr pa, const Access& a, uint64_t* out);
  template <typename T>
  bool ReadT(PhysAddr pa, const Access& a, T* out);
  template <typename T>
  bool WriteT(PhysAddr pa, T v, const Access& a);

  // True when a walk/A-D access to a frame with meta `m` is what the walker
  // expects: untracked, or a page table of the right space, level and range.
  static bool ExpectedTable(const FrameMeta& m, const Access& a) {
    if (m.use == FrameUse::kUntracked) return true;
    if (m.use != FrameUse::kPageTable) return false;
    if (a.level != 0 && m.level != a.level) return false;
    if (a.space != kNoSpace && m.space != a.space &&
        (m.flags & kFrameShared) == 0) {
      return false;
    }
    if ((m.flags & kFrameRoot) == 0 && m.level != 0) {
      const unsigned shift = 12 + 9 * m.level;  // bytes one table translates
      if (shift < 64 && (a.va.value() >> shift) != (m.va_base.value() >> shift))
        return false;
    }
    return true;
  }
  void CheckAccess(PhysAddr pa, const Access& a) {
    if (!check_walks_) return;
    if (a.purpose != Purpose::kPageTableWalk && a.purpose != Purpose::kAdUpdate)
      return;
    const Region* r = regions_[pa.value() >> kRegionShift].get();
    if (r == nullptr) return;  // never allocated: untracked
    const FrameMeta& m = r->meta[(pa.value() >> 12) & (kFramesPerRegion - 1)];
    if (!ExpectedTable(m, a)) ReportUnexpected(pa, a, m);
  }
  void ReportUnexpected(PhysAddr pa, const Access& a, const FrameMeta& m);

  sim::Simulation& sim_;
  uint64_t size_;
  bool check_walks_;
  std::vector<std::unique_ptr<Region>> regions_;
  uint64_t resident_frames_ = 0;
};

// The walker's hot path: an aligned read of an existing or untouched frame.
inline bool PhysMem::Read64(PhysAddr pa, const Access& a, uint64_t* out) {
  const uint64_t p = pa.value();
  if ((p & 7) == 0 && p < size_) [[likely]] {
    CheckAccess(pa, a);
    const uint8_t* f = FrameForRead(p);
    if (f != nullptr) {
      std::memcpy(out, f + (p & (kFrameSize - 1)), 8);
    } else {
      *out = 0;
    }
    return true;
  }
  return Read64Slow(pa, a, out);
}

}  // namespace svaemu::mem

#endif  // SVAEMU_MEM_PHYS_MEM_H_
