// A hostile or broken guest driver: seeded random register writes (both
// register pages, any width and value), random bytes in the stream table,
// CD table, page tables and the three queues, random commands submitted,
// random transactions translated, the simulation run in between. The model
// must answer with events, GERROR bits and CMDQ errors as the hardware
// does, never crash or hang, and stay deterministic: the same seed gives
// the same trace.
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"
#include "svaemu/hw/smmuv3/regs.h"
#include "svaemu/sim/rng.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint32_t kSid = 0x21;
constexpr uint32_t kSsid = 3;

struct FuzzOutcome {
  uint64_t trace_hash = 0;
  uint64_t translations = 0;
  uint64_t translated = 0;
  uint64_t stalled = 0;
};

PhysAddr QueueBase(SmmuV3& s, uint64_t reg) {
  return PhysAddr(s.MmioRead(reg, 8) & BitMask(51, 5) & ~0xfffull);
}

FuzzOutcome Fuzz(uint64_t seed, int rounds) {
  SmmuMachine m;
  kernel::Mm& mm = m.NewMm();
  const VirtAddr va = m.Populated(mm, 8);
  EXPECT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
  EXPECT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(9)).ok());
  std::vector<PhysAddr> frames = {
      m.driver->SteAddress(StreamId(kSid))->AlignDown(kPageSize4K),
      m.driver->CdAddressOf(StreamId(kSid), kSsid)->AlignDown(kPageSize4K),
      QueueBase(m.smmu, kStrtabBase), QueueBase(m.smmu, kCmdqBase),
      QueueBase(m.smmu, kEvtqBase),   QueueBase(m.smmu, kPriqBase),
      mm.pgd()};
  sim::Rng rng(seed);
  const std::vector<uint64_t> vas = {va.value(), va.value() + 0x3008, 0xffff000000001000ull,
                                     0x0001000000000000ull, 0, 0x7ffffffff000ull};
  FuzzOutcome out;
  for (int i = 0; i < rounds; ++i) {
    switch (rng.Uniform(6)) {
      case 0: {  // a register write on either page, any width, any value
        const unsigned size = rng.Uniform(2) == 0 ? 4 : 8;
        const uint64_t page = rng.Uniform(2) == 0 ? 0 : 0x10000;
        const uint64_t off = page + rng.Uniform(0x200 / size) * size;
        m.smmu.MmioWrite(off, rng.Next(), size);
        break;
      }
      case 1: {
        const unsigned size = rng.Uniform(2) == 0 ? 4 : 8;
        (void)m.smmu.MmioRead(rng.Uniform(0x20000 / size) * size, size);
        break;
      }
      case 2: {  // a word of a structure or queue overwritten
        const PhysAddr f = frames[rng.Uniform(frames.size())];
        const PhysAddr w = f + 8 * rng.Uniform(512);
        uint64_t v = m.mem.Read64(w, mem::Access::Cpu());
        v = rng.Uniform(2) == 0 ? (v ^ (1ull << rng.Uniform(64))) : rng.Next();
        m.mem.Write64(w, v, mem::Access::Cpu());
        break;
      }
      case 3: {  // a random command at PROD, then PROD moved on
        const uint32_t prod = static_cast<uint32_t>(m.smmu.MmioRead(kCmdqProd, 4));
        const PhysAddr slot = QueueBase(m.smmu, kCmdqBase) + 16ull * (prod & 0xff);
        for (int k = 0; k < 2; ++k) m.mem.Write64(slot + 8 * k, rng.Next(), mem::Access::Cpu());
        m.smmu.MmioWrite(kCmdqProd, (prod + 1) & 0x1ff, 4);
        break;
      }
      case 4: {
        const TransResult r = m.smmu.Translate(TransReq{
            .sid = StreamId(rng.Uniform(4) == 0 ? static_cast<uint32_t>(rng.Next()) : kSid),
            .ssv = rng.Uniform(4) != 0,
            .ssid = rng.Uniform(4) == 0 ? static_cast<uint32_t>(rng.Next()) : kSsid,
            .va = VirtAddr(vas[rng.Uniform(vas.size())] + 8 * rng.Uniform(4)),
            .write = rng.Uniform(2) == 0,
            .exec = rng.Uniform(8) == 0,
            .priv = rng.Uniform(2) == 0});
        ++out.translations;
        out.translated += r.status == TransStatus::kTranslated;
        out.stalled += r.status == TransStatus::kStalled;
        break;
      }
      default:
        m.sim.RunUntilIdle(1000);
        break;
    }
  }
  m.sim.RunUntilIdle(100'000);
  out.trace_hash = m.sim.trace().hash();
  return out;
}

TEST(SmmuGuestFuzz, RandomRegistersTablesAndCommandsNeverCrashAndAreDeterministic) {
  uint64_t translated = 0, faulted = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed);
    const FuzzOutcome a = Fuzz(seed, 1500);
    const FuzzOutcome b = Fuzz(seed, 1500);
    EXPECT_EQ(a.trace_hash, b.trace_hash);
    EXPECT_EQ(a.translations, b.translations);
    EXPECT_EQ(a.translated, b.translated);
    EXPECT_EQ(a.stalled, b.stalled);
    translated += a.translated;
    faulted += a.translations - a.translated;
  }
  // The guest's damage is partial: some requests still translate, others
  // fault, over the seeds.
  EXPECT_GT(translated, 0u);
  EXPECT_GT(faulted, 0u);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
