// Driver-level stories: an arm64 process's memory reached by a device
// through its SSID, kernel addresses unreachable with EPD1 = 1, a stall on
// an unpopulated page resolved through the fault path and CMD_RESUME, and
// STE/CD updates that never expose an illegal intermediate state.
#include <cstring>

#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"

namespace svaemu::hw::smmuv3 {
namespace {

using kernel::drivers::smmuv3::MasterConfig;

constexpr uint32_t kSid = 0x21;
constexpr uint32_t kSsid = 5;

TEST(SmmuDriver, ProbeEnablesQueuesAndTranslation) {
  SmmuMachine m;
  EXPECT_EQ(m.smmu.MmioRead(kCr0Ack, 4) & 0xf, 0xfu);  // SMMUEN|PRIQEN|EVTQEN|CMDQEN
  EXPECT_FALSE(m.smmu.cmdq_busy());
  // Probe issued CFGI_ALL, TLBI_NSNH_ALL and one SYNC.
  EXPECT_EQ(m.Stat("smmu0.cmdq.commands"), 3u);
}

TEST(SmmuDriver, DeviceReachesProcessMemoryThroughSsid) {
  SmmuMachine m;
  kernel::Mm& mm = m.NewMm();
  const VirtAddr va = m.Populated(mm, 2);
  ASSERT_TRUE(mm.Write(va + 0x10, std::vector<uint8_t>{0xca, 0xfe}).ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(3)).ok());

  const TransResult r = m.Dma(kSid, kSsid, va + 0x10);
  ASSERT_EQ(r.status, TransStatus::kTranslated);
  EXPECT_EQ(r.pa, mm.Lookup(va + 0x10)->pa);
  EXPECT_TRUE(r.writable);
  uint8_t byte = 0;
  ASSERT_TRUE(m.mem.Read8(r.pa, mem::Access::Cpu(), &byte));
  EXPECT_EQ(byte, 0xca);  // the process's data
  // The second access hits the TLB on the inline path.
  const uint64_t hits = m.Stat("smmu0.tlb.hits");
  EXPECT_EQ(m.Dma(kSid, kSsid, va + 0x20).pa, r.pa + 0x10);
  EXPECT_EQ(m.Stat("smmu0.tlb.hits"), hits + 1);
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(SmmuDriver, Epd1KernelAddressFaultsWithoutWalkingKernelTables) {
  SmmuMachine m;
  kernel::Mm& mm = m.NewMm();
  auto kva = m.kern->kspace().Vmalloc(kPageSize4K);
  ASSERT_TRUE(kva.ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(3)).ok());
  m.Run();
  const uint64_t reads = m.Stat("smmu0.walk.reads");

  const TransResult r = m.Dma(kSid, kSsid, *kva);
  EXPECT_EQ(r.status, TransStatus::kAborted);
  EXPECT_EQ(r.fault, EventType::kFTranslation);
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), reads);  // CD.EPD1 = 1: no walk
  m.Run();
  ASSERT_EQ(m.driver->events_seen().size(), 1u);
  EXPECT_EQ(m.driver->events_seen()[0].type, EventType::kFTranslation);
  EXPECT_EQ(m.driver->events_seen()[0].input_addr, *kva);
}

TEST(SmmuDriver, StallOnUnpopulatedPageIsResolvedAndResumedOnce) {
  SmmuMachine m;
  kernel::Mm& mm = m.NewMm();
  auto va = mm.Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite, /*populate=*/false);
  ASSERT_TRUE(va.ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(3)).ok());
  ASSERT_TRUE(m.driver->AttachSsid(StreamId(kSid), kSsid, /*domain=*/1).ok());
  IopfDouble iopf(*m.driver, &mm);
  m.driver->set_iopf_sink(&iopf);

  int completions = 0;
  pci::DmaResult final_result;
  const pci::DmaResult first = m.smmu.Translate(
      pci::DmaRequest{.rid = StreamId(kSid), .has_pasid = true, .pasid = Pasid(kSsid),
                      .addr = *va + 8, .write = true},
      [&](const pci::DmaResult& r) {
        ++completions;
        final_result = r;
      });
  EXPECT_EQ(first.status, pci::DmaStatus::kStalled);
  EXPECT_EQ(m.smmu.stalled(), 1u);
  m.Run();  // event IRQ -> threaded handler -> HandleFault -> CMD_RESUME

  EXPECT_EQ(completions, 1);  // exactly once
  EXPECT_EQ(final_result.status, pci::DmaStatus::kTranslated);
  EXPECT_EQ(final_result.pa, mm.Lookup(*va + 8)->pa);
  EXPECT_EQ(m.smmu.stalled(), 0u);
  ASSERT_EQ(iopf.reported.size(), 1u);
  EXPECT_EQ(iopf.reported[0].addr, *va + 8);
  EXPECT_EQ(iopf.reported[0].perm & kernel::kIopfPermWrite, kernel::kIopfPermWrite);
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(SmmuDriver, SteAndCdUpdatesNeverExposeAnIllegalIntermediateState) {
  SmmuMachine m;
  kernel::Mm& a = m.NewMm();
  kernel::Mm& b = m.NewMm();
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
  // Install, replace (a breaking update: TTB0 and ASID both change), quiesce
  // (hitless: only EPD0 is seen to change), clear.
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, a.pgd(), Asid(3)).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, b.pgd(), Asid(4)).ok());
  m.driver->clear_write_log();
  ASSERT_TRUE(m.driver->QuiesceCd(StreamId(kSid), kSsid).ok());
  // Quiesce is one 64-bit write: the CD stays valid with EPD0 = 1.
  ASSERT_EQ(m.driver->write_log().size(), 1u);
  ASSERT_TRUE(m.driver->ClearCd(StreamId(kSid), kSsid).ok());
  EXPECT_EQ(m.driver->invariant_failures(), 0u);
  auto cd = m.driver->ReadCd(StreamId(kSid), kSsid);
  ASSERT_TRUE(cd.ok());
  EXPECT_EQ(*cd, Cd{});
}

TEST(SmmuDriver, WriteInvariantCatchesAMixedEntry) {
  // The checker itself: an entry that is the new TTB0 with the old ASID
  // behaves as neither.
  Cd old_cd, new_cd;
  for (Cd* c : {&old_cd, &new_cd}) {
    c->Set(Cd::kV, 1);
    c->Set(Cd::kAA64, 1);
    c->Set(Cd::kT0SZ, 16);
    c->Set(Cd::kEPD1, 1);
  }
  old_cd.Set(Cd::kASID, 1);
  old_cd.Set(Cd::kTTB0, 0x100);
  new_cd.Set(Cd::kASID, 2);
  new_cd.Set(Cd::kTTB0, 0x200);
  Cd mixed = old_cd;
  mixed.Set(Cd::kTTB0, 0x200);
  const Cd used = SmmuV3Driver::CdUsed(mixed);
  auto same = [&](const Cd& x) {
    for (int i = 0; i < 8; ++i) {
      if ((mixed.dw[i] & used.dw[i]) != (x.dw[i] & used.dw[i])) return false;
    }
    return true;
  };
  EXPECT_FALSE(same(old_cd));
  EXPECT_FALSE(same(new_cd));
  // With EPD0 = 1, TTB0 is not used: the quiesced CD ignores it.
  Cd quiet = old_cd;
  quiet.Set(Cd::kEPD0, 1);
  EXPECT_EQ(SmmuV3Driver::CdUsed(quiet).Get(Cd::kTTB0), 0u);
}

TEST(SmmuDriver, QuiescedCdFaultsAndNeverWalks) {
  SmmuMachine m;
  kernel::Mm& mm = m.NewMm();
  const VirtAddr va = m.Populated(mm);
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(3)).ok());
  ASSERT_EQ(m.Dma(kSid, kSsid, va).status, TransStatus::kTranslated);
  ASSERT_TRUE(m.driver->QuiesceCd(StreamId(kSid), kSsid).ok());
  const uint64_t reads = m.Stat("smmu0.walk.reads");
  const TransResult r = m.Dma(kSid, kSsid, va);
  EXPECT_EQ(r.status, TransStatus::kAborted);
  EXPECT_EQ(r.fault, EventType::kFTranslation);  // a fault, not C_BAD_CD
  EXPECT_EQ(m.Stat("smmu0.walk.reads"), reads);
}

TEST(SmmuDriver, CombinedInterruptDeliversStallsToo) {
  SmmuMachine m({.irq_wiring = IrqWiring::kCombined});
  kernel::Mm& mm = m.NewMm();
  auto va = mm.Mmap(kPageSize4K, kernel::kProtRead, /*populate=*/false);
  ASSERT_TRUE(va.ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(3)).ok());
  ASSERT_TRUE(m.driver->AttachSsid(StreamId(kSid), kSsid, 1).ok());
  IopfDouble iopf(*m.driver, &mm);
  m.driver->set_iopf_sink(&iopf);
  EXPECT_EQ(m.Dma(kSid, kSsid, *va).status, TransStatus::kStalled);
  m.Run();
  EXPECT_EQ(m.smmu.stalled(), 0u);
  EXPECT_EQ(m.smmu.combined_irq().thread_runs(), 1u);
  EXPECT_EQ(m.smmu.evtq_irq().raised(), 0u);
  // The retry succeeded and cached the page: the next access hits.
  EXPECT_EQ(m.Dma(kSid, kSsid, *va).status, TransStatus::kTranslated);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
