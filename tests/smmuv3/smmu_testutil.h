// A machine for SMMUv3 tests: simulation, memory, an arm64 kernel, the
// SMMUv3 model, its driver (probed through MMIO) and an IOPF double.
#ifndef SVAEMU_TESTS_SMMUV3_SMMU_TESTUTIL_H_
#define SVAEMU_TESTS_SMMUV3_SMMU_TESTUTIL_H_

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/kernel/drivers/smmuv3/driver.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::smmuv3 {

using kernel::drivers::smmuv3::SmmuV3Driver;
using kernel::drivers::smmuv3::SmmuV3DriverConfig;
using kernel::drivers::smmuv3::SmmuV3IrqLines;

struct SmmuMachine {
  explicit SmmuMachine(SmmuV3Config cfg = {}, SmmuV3DriverConfig dcfg = {})
      : mem(sim), alloc(mem), smmu_owned(*SmmuV3::Create(sim, mem, cfg)), smmu(*smmu_owned) {
    auto k = kernel::Kernel::Create(
        sim, alloc, {.format = arch::PtFormat::kArm64_4K48,
                     .kernel_pt_free = kernel::KernelPtFreePolicy::kImmediate});
    EXPECT_TRUE(k.ok()) << k.status();
    kern = *std::move(k);
    SmmuV3IrqLines lines;
    if (cfg.irq_wiring == IrqWiring::kCombined) {
      lines.combined = &smmu.combined_irq();
    } else {
      lines = {.evtq = &smmu.evtq_irq(), .priq = &smmu.priq_irq(),
               .cmd_sync = &smmu.cmd_sync_irq(), .gerror = &smmu.gerror_irq()};
    }
    auto d = SmmuV3Driver::Probe(sim, alloc, smmu, lines, dcfg);
    EXPECT_TRUE(d.ok()) << d.status();
    driver = *std::move(d);
  }
  kernel::Mm& NewMm() {
    auto mm = kern->NewMm();
    EXPECT_TRUE(mm.ok()) << mm.status();
    return **mm;
  }
  // A populated read/write mapping of `pages` pages in `mm`.
  VirtAddr Populated(kernel::Mm& mm, uint64_t pages = 1) {
    auto va = mm.Mmap(pages * kPageSize4K, kernel::kProtRead | kernel::kProtWrite, true);
    EXPECT_TRUE(va.ok()) << va.status();
    return *va;
  }
  TransResult Dma(uint32_t sid, std::optional<uint32_t> ssid, VirtAddr va,
                  bool write = false) {
    return smmu.Translate(TransReq{.sid = StreamId(sid), .ssv = ssid.has_value(),
                                   .ssid = ssid.value_or(0), .va = va,
                                   .write = write});
  }
  void Run(size_t steps = 100'000) { sim.RunUntilIdle(steps); }
  uint64_t Stat(const std::string& name) { return sim.stats().Value(name); }

  sim::Simulation sim;
  mem::PhysMem mem;
  mem::FrameAllocator alloc;
  std::unique_ptr<kernel::Kernel> kern;
  std::unique_ptr<SmmuV3> smmu_owned;  // Create() with a valid configuration
  SmmuV3& smmu;
  std::unique_ptr<SmmuV3Driver> driver;
};

// The IOPF core double: resolves each reported fault with Mm::HandleFault
// and answers through the driver, at once or when Flush() runs.
class IopfDouble : public kernel::IopfSink {
 public:
  IopfDouble(SmmuV3Driver& d, kernel::Mm* mm) : driver_(d), mm_(mm) {}
  void ReportFault(const kernel::FaultSource& src,
                   const kernel::IopfFault& f) override {
    reported.push_back(f);
    if (deferred) {
      queue_.push_back({src, f});
    } else {
      Resolve(src, f);
    }
  }
  void Flush() {
    auto q = std::move(queue_);
    queue_.clear();
    for (auto& [src, f] : q) Resolve(src, f);
  }
  size_t queued() const { return queue_.size(); }
  bool deferred = false;
  std::vector<kernel::IopfFault> reported;

 private:
  void Resolve(const kernel::FaultSource& src, const kernel::IopfFault& f) {
    if ((f.flags & kernel::kIopfLastPage) == 0) return;
    const bool write = (f.perm & kernel::kIopfPermWrite) != 0;
    const kernel::FaultResult r =
        mm_->HandleFault(f.addr, arch::AccessType{.write = write});
    driver_.PageResponse(src, f, r == kernel::FaultResult::kHandled
                                     ? kernel::PageResponseCode::kSuccess
                                     : kernel::PageResponseCode::kInvalid);
  }
  SmmuV3Driver& driver_;
  kernel::Mm* mm_;
  std::vector<std::pair<kernel::FaultSource, kernel::IopfFault>> queue_;
};

}  // namespace svaemu::hw::smmuv3

#endif  // SVAEMU_TESTS_SMMUV3_SMMU_TESTUTIL_H_
