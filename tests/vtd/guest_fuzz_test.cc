// A hostile or broken guest driver: seeded random register writes (any
// offset, width and value), random bytes in the root, context, PASID and
// page tables and in the invalidation and page-request queues, random
// descriptors submitted, random requests translated, the simulation run in
// between. The model must answer everything the way hardware does (fault
// records, IQE/ITE, status bits), never crash, never hang, and stay
// deterministic: the same seed gives the same trace.
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "svaemu/hw/vtd/regs.h"
#include "svaemu/sim/rng.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kPasid;
using testing::kSid;
using testing::VtdMachine;

constexpr uint8_t kRw = kernel::kProtRead | kernel::kProtWrite;

struct FuzzOutcome {
  uint64_t trace_hash = 0;
  uint64_t translations = 0;
  uint64_t ok = 0;
  size_t faults_logged = 0;
};

// Frames a guest would scribble over: the structures the model reads.
std::vector<PhysAddr> StructureFrames(VtdMachine& m, kernel::Mm& mm) {
  std::vector<PhysAddr> frames;
  mem::PhysMem& mem = m.mem;
  const mem::Access a = mem::Access::Cpu();
  const PhysAddr root(m.vtd->MmioRead(kRtaddrReg, 8) & ~0xfffull);
  frames.push_back(root);
  const uint64_t re = mem.Read64(root + 16ull * (kSid >> 8), a);
  const PhysAddr ctx(re & ~0xfffull);
  frames.push_back(ctx);
  const uint64_t ce = mem.Read64(ctx + 32ull * (kSid & 0x7f), a);
  const PhysAddr dir(ce & ~0xfffull);
  frames.push_back(dir);
  const uint64_t de = mem.Read64(dir + 8ull * (kPasid >> 6), a);
  frames.push_back(PhysAddr(de & ~0xfffull));
  frames.push_back(PhysAddr(m.vtd->MmioRead(kIqaReg, 8) & ~0xfffull));
  frames.push_back(PhysAddr(m.vtd->MmioRead(kPqaReg, 8) & ~0xfffull));
  frames.push_back(mm.pgd());
  return frames;
}

FuzzOutcome Fuzz(uint64_t seed, int rounds) {
  VtdMachine m({.device_tlb = true});
  kernel::Mm& mm = m.NewMm();
  const VirtAddr va = *mm.Mmap(16 * 4096, kRw, true);
  m.Bind(mm, {.sre = true});
  const std::vector<PhysAddr> frames = StructureFrames(m, mm);
  sim::Rng rng(seed);
  const std::vector<uint64_t> addrs = {va.value(), va.value() + 0x5123, 0xffff888000000000ull,
                                       0x0000800000000000ull, 0, ~0ull, 0x7fffffffe000ull};
  FuzzOutcome out;
  for (int i = 0; i < rounds; ++i) {
    switch (rng.Uniform(6)) {
      case 0: {  // a register write anywhere, any width, any value
        const unsigned size = rng.Uniform(2) == 0 ? 4 : 8;
        const uint64_t off = rng.Uniform(kMmioSize / size) * size;
        m.vtd->MmioWrite(off, rng.Next(), size);
        break;
      }
      case 1: {  // a register read anywhere (reads have side effects on no register)
        const unsigned size = rng.Uniform(2) == 0 ? 4 : 8;
        (void)m.vtd->MmioRead(rng.Uniform(kMmioSize / size) * size, size);
        break;
      }
      case 2: {  // a word of a structure overwritten (often with a bit flip)
        const PhysAddr f = frames[rng.Uniform(frames.size())];
        const PhysAddr w = f + 8 * rng.Uniform(512);
        uint64_t v = m.mem.Read64(w, mem::Access::Cpu());
        v = rng.Uniform(2) == 0 ? (v ^ (1ull << rng.Uniform(64))) : rng.Next();
        m.mem.Write64(w, v, mem::Access::Cpu());
        break;
      }
      case 3: {  // a random descriptor at the tail, then the tail moved on
        const uint64_t iqa = m.vtd->MmioRead(kIqaReg, 8);
        const uint64_t iqt = m.vtd->MmioRead(kIqtReg, 8);
        const PhysAddr slot = PhysAddr(iqa & ~0xfffull) + (iqt & 0x7fff0);
        for (int k = 0; k < 4; ++k) m.mem.Write64(slot + 8 * k, rng.Next(), mem::Access::Cpu());
        m.vtd->MmioWrite(kIqtReg, (iqt + (rng.Uniform(2) + 1) * 16) & 0x7fff0, 8);
        break;
      }
      case 4: {  // a request
        const VtdResult r = m.vtd->Translate(VtdRequest{
            .sid = rng.Uniform(4) == 0 ? static_cast<uint16_t>(rng.Next()) : kSid,
            .has_pasid = rng.Uniform(4) != 0,
            .pasid = rng.Uniform(4) == 0 ? static_cast<uint32_t>(rng.Next()) : kPasid,
            .addr = addrs[rng.Uniform(addrs.size())] + 8 * rng.Uniform(4),
            .write = rng.Uniform(2) == 0,
            .exec = rng.Uniform(8) == 0,
            .priv = rng.Uniform(2) == 0});
        ++out.translations;
        if (r.ok) {
          ++out.ok;
          EXPECT_EQ(r.fault, FaultReason::kNone);
        } else {
          // A failed translation names its reason (or was blocked by TE=0
          // being off, which translates 1:1 and is ok).
          EXPECT_NE(r.fault, FaultReason::kNone);
        }
        break;
      }
      default:  // time passes: queues drain, interrupts fire
        m.sim.RunUntilIdle(1000);
        break;
    }
  }
  m.sim.RunUntilIdle(100'000);
  out.trace_hash = m.sim.trace().hash();
  out.faults_logged = m.vtd->fault_log().size();
  return out;
}

TEST(VtdGuestFuzz, RandomRegistersTablesAndDescriptorsNeverCrashAndAreDeterministic) {
  uint64_t ok = 0, failed = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    const FuzzOutcome a = Fuzz(seed, 1500);
    const FuzzOutcome b = Fuzz(seed, 1500);
    EXPECT_EQ(a.trace_hash, b.trace_hash);
    EXPECT_EQ(a.translations, b.translations);
    EXPECT_EQ(a.ok, b.ok);
    EXPECT_EQ(a.faults_logged, b.faults_logged);
    ok += a.ok;
    failed += a.translations - a.ok;
  }
  // The guest's damage is partial: some requests still translate, others
  // fault, over the seeds.
  EXPECT_GT(ok, 0u);
  EXPECT_GT(failed, 0u);
}

}  // namespace
}  // namespace svaemu::hw::vtd
