// A platform (x86-64 + VT-d or arm64 + SMMUv3) for the domain tests, with
// helpers for DMA without a PASID, physical buffers, and the faults the
// kernel's driver saw (VT-d fault recording registers / SMMUv3 events).
#ifndef SVAEMU_TESTS_DOMAINS_DOMAINS_TESTUTIL_H_
#define SVAEMU_TESTS_DOMAINS_DOMAINS_TESTUTIL_H_

#include <memory>
#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/platform/platform.h"

namespace svaemu::testing {

using platform::Arch;

inline const char* ArchName(const ::testing::TestParamInfo<Arch>& i) {
  return i.param == Arch::kArm64 ? "Arm64Smmuv3" : "X86Vtd";
}

struct Rig {
  explicit Rig(Arch arch, platform::PlatformConfig c = {}) {
    c.arch = arch;
    auto made = platform::Platform::Create(c);
    EXPECT_TRUE(made.ok()) << made.status();
    p = *std::move(made);
  }
  kernel::IommuCore& core() { return p->core(); }
  kernel::Device& dev(size_t i = 0) { return *p->device(i).dev; }
  hw::pci::Endpoint& ep(size_t i = 0) { return *p->device(i).ep; }
  bool arm() const { return p->config().arch == Arch::kArm64; }

  // A zeroed data frame of the kernel's allocator.
  PhysAddr Buffer() {
    absl::StatusOr<PhysAddr> f = p->alloc().Allocate(mem::FrameUse::kData, "test_buffer",
                                                      kNoSpace, /*zero=*/true);
    EXPECT_TRUE(f.ok()) << f.status();
    return *f;
  }
  uint8_t ReadByte(PhysAddr pa) {
    uint64_t v = p->mem().Read64(pa.AlignDown(8), mem::Access::Cpu());
    return static_cast<uint8_t>(v >> (8 * (pa.value() & 7)));
  }
  void WriteByte(PhysAddr pa, uint8_t b) {
    const PhysAddr w = pa.AlignDown(8);
    uint64_t v = p->mem().Read64(w, mem::Access::Cpu());
    const unsigned sh = 8 * (pa.value() & 7);
    v = (v & ~(0xffull << sh)) | (uint64_t{b} << sh);
    p->mem().Write64(w, v, mem::Access::Cpu());
  }

  // One DMA write of `b` at `addr` (no PASID unless given), run to the end.
  const hw::pci::DmaRecord& Write(VirtAddr addr, uint8_t b,
                                  std::optional<Pasid> pasid = std::nullopt, size_t d = 0) {
    const uint64_t id = ep(d).Write(pasid, addr, std::vector<uint8_t>{b});
    p->sim().RunUntilIdle(1'000'000);
    return ep(d).record(id);
  }
  // One DMA read of a byte; nullopt if the DMA did not complete.
  std::optional<uint8_t> Read(VirtAddr addr, std::optional<Pasid> pasid = std::nullopt,
                              size_t d = 0) {
    buf_.assign(1, 0);
    const uint64_t id = ep(d).Read(pasid, addr, buf_);
    p->sim().RunUntilIdle(1'000'000);
    if (ep(d).record(id).outcome != hw::pci::DmaOutcome::kDone) return std::nullopt;
    return buf_[0];
  }

  // Faults the driver read back: VT-d fault records, SMMUv3 events.
  size_t DriverFaults() {
    p->sim().RunUntilIdle(1'000'000);
    if (arm()) return p->smmu_driver(0)->events_seen().size();
    p->vtd_driver(0)->SynchronizeIrqs();
    return p->vtd_driver(0)->faults().size();
  }
  // The STE of device `d` (SMMUv3 only).
  hw::smmuv3::Ste Ste(size_t d = 0) {
    absl::StatusOr<hw::smmuv3::Ste> s = p->smmu_driver(0)->ReadSte(dev(d).id().rid);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : hw::smmuv3::Ste{};
  }
  int Violations() const { return p->sim().violations().total(); }

  std::unique_ptr<platform::Platform> p;
  std::vector<uint8_t> buf_;
};

}  // namespace svaemu::testing

#endif  // SVAEMU_TESTS_DOMAINS_DOMAINS_TESTUTIL_H_
