// A machine for VT-d tests: simulation, memory, kernel (x86-64), one VT-d
// unit probed by the driver, and helpers to find and corrupt its tables.
#ifndef SVAEMU_TESTS_VTD_VTD_TESTUTIL_H_
#define SVAEMU_TESTS_VTD_VTD_TESTUTIL_H_

#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/hw/vtd/vtd.h"
#include "svaemu/kernel/drivers/vtd/vtd_driver.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd::testing {

inline constexpr uint16_t kSid = 0x0310;  // bus 3, devfn 0x10
inline constexpr uint32_t kPasid = 5;
inline constexpr uint16_t kDid = 7;

struct VtdMachine {
  explicit VtdMachine(VtdConfig cfg = {},
                      kernel::KernelPtFreePolicy policy = kernel::KernelPtFreePolicy::kImmediate,
                      arch::PtFormat format = arch::PtFormat::kX86_4Level)
      : mem(sim), alloc(mem) {
    auto k = kernel::Kernel::Create(sim, alloc, {.format = format, .kernel_pt_free = policy});
    EXPECT_TRUE(k.ok()) << k.status();
    kernel = *std::move(k);
    auto v = Vtd::Create(sim, mem, cfg);
    EXPECT_TRUE(v.ok()) << v.status();
    vtd = *std::move(v);
    auto d = kernel::vtd::VtdDriver::Probe(sim, mem, alloc, *vtd,
                                           {.fault = &vtd->fault_irq(), .prq = &vtd->prq_irq()});
    EXPECT_TRUE(d.ok()) << d.status();
    drv = *std::move(d);
  }
  kernel::Mm& NewMm() {
    auto mm = kernel->NewMm();
    EXPECT_TRUE(mm.ok()) << mm.status();
    return **mm;
  }
  // Attaches kSid and binds kPasid to `mm` (first stage).
  void Bind(kernel::Mm& mm, kernel::vtd::FirstStageOptions fs = {},
            kernel::vtd::AttachOptions ao = {}, uint16_t sid = kSid, uint32_t pasid = kPasid) {
    ASSERT_TRUE(drv->AttachDevice(StreamId(sid), ao).ok());
    ASSERT_TRUE(
        drv->SetupFirstStagePasid(StreamId(sid), Pasid(pasid), mm.pgd(), DomainId(kDid), fs).ok());
  }
  VtdResult Dma(uint64_t addr, bool write = false, bool priv = false, bool exec = false,
                uint16_t sid = kSid, uint32_t pasid = kPasid, bool has_pasid = true) {
    return vtd->Translate(VtdRequest{.sid = sid, .has_pasid = has_pasid, .pasid = pasid,
                                     .addr = addr, .write = write, .exec = exec, .priv = priv});
  }
  uint64_t Stat(const std::string& name) { return sim.stats().Value("vtd0." + name); }
  uint64_t Read64(PhysAddr pa) { return mem.Read64(pa, mem::Access::Cpu()); }
  void Write64(PhysAddr pa, uint64_t v) { mem.Write64(pa, v, mem::Access::Cpu()); }
  PhysAddr RootEntry(uint16_t sid) {
    return PhysAddr(vtd->Read64(kRtaddrReg) & BitMask(63, 12)) + 16ull * (sid >> 8);
  }
  PhysAddr ContextEntry(uint16_t sid) {
    const uint64_t lo = Read64(RootEntry(sid));
    return PhysAddr(lo & BitMask(63, 12)) + 32ull * (sid & 0x7f);
  }
  PhysAddr PasidDirEntry(uint16_t sid, uint32_t pasid) {
    return PhysAddr(Read64(ContextEntry(sid)) & BitMask(63, 12)) + 8ull * (pasid >> 6);
  }
  PhysAddr PasidEntry(uint16_t sid, uint32_t pasid) {
    return PhysAddr(Read64(PasidDirEntry(sid, pasid)) & BitMask(63, 12)) + 64ull * (pasid & 63);
  }
  // Drops every cached configuration and translation (through the queue).
  void FlushAll() {
    const RawDesc d[] = {ContextCacheDesc{.g = 1}.Encode(), PasidCacheDesc{.g = 3}.Encode(),
                         IotlbDesc{.g = 1}.Encode()};
    ASSERT_TRUE(drv->SubmitSync(d).ok());
  }

  sim::Simulation sim;
  mem::PhysMem mem;
  mem::FrameAllocator alloc;
  std::unique_ptr<kernel::Kernel> kernel;
  std::unique_ptr<Vtd> vtd;
  std::unique_ptr<kernel::vtd::VtdDriver> drv;
};

// A machine with two fault recording registers, kSid bound to a fresh mm,
// the fault event masked (nobody services it), and three faulting DMAs:
// the registers fill and the third fault overflows (PFO).
struct OverflowedFaultRecords {
  OverflowedFaultRecords() {
    m.Bind(m.NewMm());
    m.vtd->Write32(kFectlReg, 1u << EventCtl::kIm);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(m.Dma(0x10000000 + 4096 * i).ok);
  }
  VtdMachine m{VtdConfig{.nfr = 2}};
};

// A machine with one populated read/write page va_ in an mm bound to
// (kSid, kPasid), translated once. A subclass may set attach_ in its
// constructor (e.g. .ats = true).
class BoundPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mm_ = &m_.NewMm();
    va_ = *mm_->Mmap(4096, kernel::kProtRead | kernel::kProtWrite, true);
    m_.Bind(*mm_, {}, attach_);
    ASSERT_TRUE(m_.Dma(va_.value()).ok);
  }
  kernel::vtd::AttachOptions attach_;
  VtdMachine m_;
  kernel::Mm* mm_ = nullptr;
  VirtAddr va_;
};

// Copies `words` into a byte buffer between 16-byte guard patterns, checks
// that the guards are intact, and returns the words read back.
template <size_t N>
std::array<uint64_t, N> GuardedCopy(const std::array<uint64_t, N>& words) {
  constexpr uint8_t kGuard = 0xa5;
  std::vector<uint8_t> buf(16 + 8 * N + 16, kGuard);
  std::memcpy(buf.data() + 16, words.data(), 8 * N);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(buf[i], kGuard) << "front guard byte " << i;
    EXPECT_EQ(buf[16 + 8 * N + i], kGuard) << "back guard byte " << i;
  }
  std::array<uint64_t, N> out;
  std::memcpy(out.data(), buf.data() + 16, 8 * N);
  return out;
}

}  // namespace svaemu::hw::vtd::testing

#endif  // SVAEMU_TESTS_VTD_VTD_TESTUTIL_H_
