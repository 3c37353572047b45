#include "svaemu/mem/phys_mem.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "absl/strings/str_cat.h"
#include "svaemu/base/check.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::mem {

const char* FrameUseName(FrameUse u) {
  switch (u) {
    case FrameUse::kUntracked: return "untracked";
    case FrameUse::kFree: return "free";
    case FrameUse::kPageTable: return "page table";
    case FrameUse::kData: return "data";
    case FrameUse::kQueue: return "queue";
    case FrameUse::kIommuTable: return "IOMMU table";
    case FrameUse::kKernelObject: return "kernel object";
  }
  return "?";
}

std::string DescribeFrame(const FrameMeta& m) {
  std::string out = FrameUseName(m.use);
  if (m.use == FrameUse::kPageTable) {
    absl::StrAppend(&out, " (space ", m.space.value(), ", level ", m.level,
                    ", va ", Hex(m.va_base.value()),
                    (m.flags & kFrameShared) ? ", shared" : "",
                    (m.flags & kFrameRoot) ? ", root" : "", ")");
  } else if (m.use == FrameUse::kData && m.space != kNoSpace) {
    absl::StrAppend(&out, " (space ", m.space.value(), ")");
  }
  return out;
}

namespace {
const FrameMeta kUntrackedMeta{};

// `bytes` of host address space, read-only and committing nothing: every
// page reads as the host's shared zero page until made writable. nullptr
// if the host refuses.
uint8_t* ReserveZeros(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p);
}
// Gives back a ReserveZeros() reservation of `bytes` (nothing for nullptr).
void Unreserve(uint8_t* p, uint64_t bytes) {
  if (p != nullptr) munmap(p, bytes);
}
}  // namespace

PhysMem::PhysMem(sim::Simulation& sim, PhysMemConfig config)
    : sim_(sim),
      size_(config.size_bytes),
      check_walks_(config.check_walks) {
  SVAEMU_CHECK_MSG(size_ % kFrameSize == 0 && size_ > 0,
                   "physical memory size must be a non-zero multiple of 4 KiB");
  const uint64_t regions = ((size_ - 1) >> kRegionShift) + 1;
  regions_.resize(regions, ZeroRegion());
  // The flat part: the whole space if the host lets us reserve it, else
  // the largest prefix it does (halving). Address space only, read-only:
  // reads of pages never written see the host's shared zero page, and a
  // read-only private mapping is not charged against the host's commit
  // limit, whatever its overcommit policy.
  // Its shadow likewise (a 64-byte slot per frame; zero bytes are the
  // default, untracked, shadow).
  // The shadow the walker reads with checking off is a third reservation,
  // never written: all zeros (untracked), so its test passes with no
  // "checking on?" test per read.
  for (uint64_t n = std::min(regions, config.flat_bytes_max >> kRegionShift); n > 0; n /= 2) {
    const uint64_t bytes_size = n << kRegionShift;
    const uint64_t meta_size = n * sizeof(RegionMeta);
    uint8_t* const bytes = ReserveZeros(bytes_size);
    uint8_t* const meta = ReserveZeros(meta_size);
    uint8_t* const zero_meta = ReserveZeros(meta_size);
    if (bytes == nullptr || meta == nullptr || zero_meta == nullptr) {
      Unreserve(bytes, bytes_size);
      Unreserve(meta, meta_size);
      Unreserve(zero_meta, meta_size);
      continue;
    }
    flat_ = bytes;
    flat_meta_ = meta;
    zero_meta_ = zero_meta;
    flat_size_ = bytes_size;
    for (uint64_t i = 0; i < n; ++i) regions_[i].bytes = flat_ + (i << kRegionShift);
    break;
  }
  fast_limit_ = std::min(flat_size_, size_);
}

const PhysMem::Region& PhysMem::ZeroRegion() {
  static const Region zero = [] {
    // Read-only: a write through it would be an emulator bug, and faults.
    uint8_t* const bytes = ReserveZeros(kRegionSize);
    SVAEMU_CHECK_MSG(bytes != nullptr, "cannot map the zero region");
    return Region{.bytes = bytes, .meta = new RegionMeta()};
  }();
  return zero;
}

PhysMem::~PhysMem() {
  for (uint64_t i = 0; i < regions_.size(); ++i) {
    Region& r = regions_[i];
    if (!Touched(r)) continue;
    if ((i << kRegionShift) >= flat_size_) {
      delete r.meta;
      munmap(r.bytes, kRegionSize);
    }  // else both live in the flat reservations
  }
  if (flat_ != nullptr) {
    const uint64_t meta_bytes = (flat_size_ >> kRegionShift) * sizeof(RegionMeta);
    munmap(flat_, flat_size_);
    munmap(flat_meta_, meta_bytes);
    munmap(zero_meta_, meta_bytes);
  }
}

PhysMem::Region& PhysMem::RegionFor(uint64_t pa) {
  Region& r = regions_[pa >> kRegionShift];
  if (!Touched(r)) {
    // The host commits (zeroed) pages on first write, and reads of pages
    // never written see its shared zero page.
    const uint64_t base = pa & ~(kRegionSize - 1);
    if (base < flat_size_) {
      // In the flat part: make the region and its shadow writable in
      // place. (The shadow's pages read as zeros, the default shadow the
      // walker has seen through flat_meta_ so far; the RegionMeta
      // constructed there is the same.)
      uint8_t* meta = flat_meta_ + (base >> kRegionShift) * sizeof(RegionMeta);
      if (mprotect(flat_ + base, kRegionSize, PROT_READ | PROT_WRITE) != 0 ||
          mprotect(meta, sizeof(RegionMeta), PROT_READ | PROT_WRITE) != 0) {
        throw std::bad_alloc();
      }
      r.meta = new (meta) RegionMeta();
    } else {
      auto meta = std::make_unique<RegionMeta>();
      void* bytes = mmap(nullptr, kRegionSize, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (bytes == MAP_FAILED) throw std::bad_alloc();
      r.bytes = static_cast<uint8_t*>(bytes);
      r.meta = meta.release();
    }
  }
  return r;
}

uint8_t* PhysMem::FrameForWrite(uint64_t pa) {
  Region& r = RegionFor(pa);
  Slot& slot = r.meta->slots[(pa >> 12) & (kFramesPerRegion - 1)];
  if (!slot.resident) {
    slot.resident = true;
    ++resident_frames_;
  }
  return r.bytes + (pa & (kRegionSize - 1) & ~(kFrameSize - 1));
}

template <typename T>
bool PhysMem::ReadT(PhysAddr pa, const Access& a, T* out) {
  if (!Contains(pa, sizeof(T))) {
    *out = static_cast<T>(~T{0});
    return false;
  }
  CheckAccess(pa, a);
  const uint64_t p = pa.value();
  const uint64_t off = p & (kFrameSize - 1);
  if (off + sizeof(T) <= kFrameSize) {
    std::memcpy(out, FrameForRead(p) + off, sizeof(T));
    return true;
  }
  // Crosses a frame boundary: assemble bytewise (little-endian).
  uint64_t v = 0;
  for (unsigned i = 0; i < sizeof(T); ++i) {
    const uint8_t* f = FrameForRead(p + i);
    const uint8_t b = f ? f[(p + i) & (kFrameSize - 1)] : 0;
    v |= static_cast<uint64_t>(b) << (8 * i);
  }
  *out = static_cast<T>(v);
  return true;
}

template <typename T>
bool PhysMem::WriteT(PhysAddr pa, T v, const Access& a) {
  if (!Contains(pa, sizeof(T))) return false;
  CheckAccess(pa, a);
  const uint64_t p = pa.value();
  const uint64_t off = p & (kFrameSize - 1);
  if (off + sizeof(T) <= kFrameSize) {
    std::memcpy(FrameForWrite(p) + off, &v, sizeof(T));
    return true;
  }
  const uint64_t u = static_cast<uint64_t>(v);
  for (unsigned i = 0; i < sizeof(T); ++i) {
    FrameForWrite(p + i)[(p + i) & (kFrameSize - 1)] =
        static_cast<uint8_t>(u >> (8 * i));
  }
  return true;
}

bool PhysMem::Read64Slow(PhysAddr pa, const Access& a, uint64_t* out) {
  return ReadT(pa, a, out);
}
bool PhysMem::Read8(PhysAddr pa, const Access& a, uint8_t* out) {
  return ReadT(pa, a, out);
}
bool PhysMem::Read16(PhysAddr pa, const Access& a, uint16_t* out) {
  return ReadT(pa, a, out);
}
bool PhysMem::Read32(PhysAddr pa, const Access& a, uint32_t* out) {
  return ReadT(pa, a, out);
}
bool PhysMem::Write8(PhysAddr pa, uint8_t v, const Access& a) {
  return WriteT(pa, v, a);
}
bool PhysMem::Write16(PhysAddr pa, uint16_t v, const Access& a) {
  return WriteT(pa, v, a);
}
bool PhysMem::Write32(PhysAddr pa, uint32_t v, const Access& a) {
  return WriteT(pa, v, a);
}
bool PhysMem::Write64(PhysAddr pa, uint64_t v, const Access& a) {
  return WriteT(pa, v, a);
}

CasResult PhysMem::CompareExchange64(PhysAddr pa, uint64_t* expected,
                                     uint64_t desired, const Access& a) {
  // Hardware performs locked updates only on naturally aligned entries; an
  // unaligned one is an emulator bug in the caller, not a guest error,
  // because every caller computes entry addresses as table + 8 * index.
  SVAEMU_CHECK(pa.IsAligned(8));
  if (!Contains(pa, 8)) return CasResult::kAbort;
  CheckAccess(pa, a);
  uint8_t* f = FrameForWrite(pa.value());
  uint64_t current;
  std::memcpy(&current, f + pa.OffsetIn(kFrameSize), 8);
  if (current != *expected) {
    *expected = current;
    return CasResult::kMismatch;
  }
  std::memcpy(f + pa.OffsetIn(kFrameSize), &desired, 8);
  return CasResult::kSwapped;
}

bool PhysMem::ReadBytes(PhysAddr pa, std::span<uint8_t> out, const Access& a) {
  if (!Contains(pa, out.size())) {
    std::fill(out.begin(), out.end(), 0xff);
    return false;
  }
  uint64_t p = pa.value();
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t off = p & (kFrameSize - 1);
    const size_t n = std::min<uint64_t>(kFrameSize - off, out.size() - done);
    CheckAccess(PhysAddr(p), a);
    const uint8_t* f = FrameForRead(p);
    if (f) {
      std::memcpy(out.data() + done, f + off, n);
    } else {
      std::memset(out.data() + done, 0, n);
    }
    done += n;
    p += n;
  }
  return true;
}

bool PhysMem::WriteBytes(PhysAddr pa, std::span<const uint8_t> in,
                         const Access& a) {
  if (!Contains(pa, in.size())) return false;
  uint64_t p = pa.value();
  size_t done = 0;
  while (done < in.size()) {
    const uint64_t off = p & (kFrameSize - 1);
    const size_t n = std::min<uint64_t>(kFrameSize - off, in.size() - done);
    CheckAccess(PhysAddr(p), a);
    std::memcpy(FrameForWrite(p) + off, in.data() + done, n);
    done += n;
    p += n;
  }
  return true;
}

void PhysMem::ZeroFrame(PhysAddr pa) {
  if (!Contains(pa)) return;
  const Slot* slot = SlotFor(pa.value());
  // A frame never written is zero already; leave its host page uncommitted.
  if (slot != nullptr && slot->resident) {
    std::memset(regions_[pa.value() >> kRegionShift].bytes +
                    (pa.value() & (kRegionSize - 1) & ~(kFrameSize - 1)),
                0, kFrameSize);
  }
}

const FrameMeta& PhysMem::Meta(PhysAddr pa) const {
  if (!Contains(pa)) return kUntrackedMeta;
  const Slot* slot = SlotFor(pa.value());
  return slot == nullptr ? kUntrackedMeta : slot->meta;
}

FrameMeta& PhysMem::MutableMeta(PhysAddr pa) {
  SVAEMU_CHECK(Contains(pa));
  return RegionFor(pa.value()).meta->slots[(pa.value() >> 12) & (kFramesPerRegion - 1)].meta;
}

void PhysMem::CheckSlow(PhysAddr pa, const Access& a, const FrameMeta& m) {
  if (!ExpectedTable(m, a)) ReportUnexpected(pa, a, m);
}

void PhysMem::ReportUnexpected(PhysAddr pa, const Access& a,
                               const FrameMeta& m) {
  check::Violation v;
  v.time = sim_.now();
  v.agent = a.agent;
  v.frame = pa.AlignDown(kFrameSize);
  v.alloc = m.alloc;
  v.free = m.free;
  const std::string expected = absl::StrCat(
      "page table (space ", a.space.value(), ", level ", a.level, ", va ",
      Hex(a.va.value()), ")");
  if (a.purpose == Purpose::kAdUpdate) {
    v.kind = check::ViolationKind::kAdWriteToNonTableFrame;
    v.text = absl::StrCat("A/D update of entry ", Hex(pa.value()),
                          " lands in a frame that is ", DescribeFrame(m),
                          ", expected ", expected);
  } else if (m.use == FrameUse::kFree) {
    v.kind = check::ViolationKind::kWalkThroughFreedFrame;
    v.text = absl::StrCat("walk reads entry ", Hex(pa.value()),
                          " of a freed frame, expected ", expected);
  } else {
    v.kind = check::ViolationKind::kWalkThroughReusedFrame;
    v.text = absl::StrCat("walk reads entry ", Hex(pa.value()),
                          " of a frame that is now ", DescribeFrame(m),
                          ", expected ", expected);
  }
  sim_.violations().Report(std::move(v));
}

}  // namespace svaemu::mem
