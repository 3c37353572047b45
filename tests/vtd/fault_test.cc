// Every scalable-mode fault reason reached from a malformed or missing
// entry; FPD suppression; fault-recording overflow (PFO).
#include "gtest/gtest.h"
#include "svaemu/arch/x86_64.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kPasid;
using testing::kSid;
using testing::VtdMachine;

class VtdFaults : public testing::BoundPageTest {
 protected:
  // Corrupts `pa` with `bits` set, flushes every cache, translates.
  FaultReason CorruptAndTranslate(PhysAddr pa, uint64_t bits, uint32_t pasid = kPasid,
                                  uint16_t sid = kSid) {
    m_.Write64(pa, m_.Read64(pa) | bits);
    m_.FlushAll();
    const VtdResult r = m_.Dma(va_.value(), false, false, false, sid, pasid);
    m_.Write64(pa, m_.Read64(pa) & ~bits);
    return r.fault;
  }
};

TEST_F(VtdFaults, RootEntryNotPresentAndReserved) {
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, 0x0500).fault, FaultReason::kRootNotPresent);
  EXPECT_EQ(CorruptAndTranslate(m_.RootEntry(kSid), 1u << 1), FaultReason::kRootReserved);
}

TEST_F(VtdFaults, ContextEntryNotPresentReservedAndPasidDisabled) {
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid + 1).fault,
            FaultReason::kContextNotPresent);
  EXPECT_EQ(CorruptAndTranslate(m_.ContextEntry(kSid) + 16, 1), FaultReason::kContextReserved);
  const PhysAddr ce = m_.ContextEntry(kSid);
  const uint64_t v = m_.Read64(ce);
  m_.Write64(ce, v & ~(1ull << 3));  // PASIDE = 0
  m_.FlushAll();
  EXPECT_EQ(m_.Dma(va_.value()).fault, FaultReason::kContextPasidDisabled);
  m_.Write64(ce, v & ~BitMask(11, 9));  // PDTS = 0: 128 directory entries
  m_.FlushAll();
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid, 128 * 64).fault,
            FaultReason::kPasidTooLarge);
  m_.Write64(ce, v);
}

TEST_F(VtdFaults, PasidDirectoryEntryNotPresentAndReserved) {
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid, 64 * 3).fault,
            FaultReason::kPasidDirNotPresent);
  EXPECT_EQ(CorruptAndTranslate(m_.PasidDirEntry(kSid, kPasid), 1u << 2),
            FaultReason::kPasidDirReserved);
}

// A table pointer with a bit above HAW (46) set is a reserved-bit fault of
// the entry holding it (9.2, 9.4, 9.5), before anything is read through it.
TEST_F(VtdFaults, TablePointersAboveHawAreReserved) {
  const uint64_t above = 1ull << 46;
  EXPECT_EQ(CorruptAndTranslate(m_.RootEntry(kSid), above), FaultReason::kRootReserved);
  EXPECT_EQ(CorruptAndTranslate(m_.ContextEntry(kSid), above), FaultReason::kContextReserved);
  EXPECT_EQ(CorruptAndTranslate(m_.PasidDirEntry(kSid, kPasid), above),
            FaultReason::kPasidDirReserved);
  EXPECT_TRUE(m_.Dma(va_.value()).ok) << "restored";
}

TEST_F(VtdFaults, PasidEntryNotPresentReservedInvalidAndEafe) {
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid, kPasid + 1).fault,
            FaultReason::kPasidNotPresent);
  const PhysAddr pe = m_.PasidEntry(kSid, kPasid);
  EXPECT_EQ(CorruptAndTranslate(pe + 24, 1), FaultReason::kPasidReserved);
  EXPECT_EQ(CorruptAndTranslate(pe + 16, 1u << 7), FaultReason::kPasidReserved)
      << "EAFE without EAFS";
  EXPECT_EQ(CorruptAndTranslate(pe, 2u << 6), FaultReason::kPasidInvalid) << "PGTT 1|2 = 3 nested";
}

TEST_F(VtdFaults, FirstStageReservedBitAndAccessError) {
  const PhysAddr leaf = mm_->Lookup(va_)->leaf_entry_pa;
  EXPECT_EQ(CorruptAndTranslate(leaf, 1ull << 50), FaultReason::kFsReserved) << "above HAW 46";
  // A PDE pointing beyond physical memory: the PT read is a master abort.
  arch::PageTableBuilder b(m_.alloc, arch::PtFormat::kX86_4Level, mm_->space(), mm_->pgd());
  const PhysAddr pde_pa = *b.EntryAddress(va_, 2);
  const uint64_t old = m_.Read64(pde_pa);
  m_.Write64(pde_pa, (old & 0xfff) | (0x3fffull << 30));  // 16 TiB: beyond 64 GiB
  m_.FlushAll();
  EXPECT_EQ(m_.Dma(va_.value()).fault, FaultReason::kFsAccessError);
  m_.Write64(pde_pa, old);
}

TEST_F(VtdFaults, RootTableBeyondMemoryIsAnAccessError) {
  m_.vtd->Write64(kRtaddrReg, (1ull << 40) | (Rtaddr::kTtmScalable << Rtaddr::kTtmLo));
  m_.vtd->Write32(kGcmdReg, (1u << Gcmd::kTe) | (1u << Gcmd::kQie) | (1u << Gcmd::kSrtp));
  m_.FlushAll();
  EXPECT_EQ(m_.Dma(va_.value()).fault, FaultReason::kRootAccessError);
}

TEST_F(VtdFaults, ContextFpdSuppressesRecording) {
  const PhysAddr ce = m_.ContextEntry(kSid);
  m_.Write64(ce, m_.Read64(ce) | 2);
  m_.FlushAll();
  const VtdResult r = m_.Dma(va_.value() + (1 << 20));  // unmapped
  EXPECT_EQ(r.fault, FaultReason::kFsNotPresent);
  EXPECT_FALSE(r.recorded);
  EXPECT_EQ(m_.Stat("faults.recorded"), 0u);
  EXPECT_EQ(m_.Stat("faults.suppressed"), 1u);
}

TEST(VtdFaultRecording, OverflowSetsPfoAndLosesTheFaultUntilServiced) {
  testing::OverflowedFaultRecords o;
  VtdMachine& m = o.m;
  const uint32_t fsts = m.vtd->Read32(kFstsReg);
  EXPECT_TRUE(Bit(fsts, Fsts::kPpf));
  EXPECT_TRUE(Bit(fsts, Fsts::kPfo)) << "third fault found register 0 still full";
  EXPECT_EQ(m.Stat("faults.recorded"), 2u);
  EXPECT_EQ(m.Stat("faults.lost"), 1u);
  EXPECT_TRUE(Bit(m.vtd->Read32(kFectlReg), EventCtl::kIp));
  m.vtd->Write32(kFectlReg, 0);  // unmask: the pending event is delivered
  m.sim.RunUntilIdle(100);
  ASSERT_EQ(m.drv->faults().size(), 2u);
  EXPECT_EQ(m.drv->faults()[0].addr, 0x10000000u);
  EXPECT_EQ(m.drv->faults()[1].addr, 0x10001000u);
  EXPECT_EQ(m.vtd->Read32(kFstsReg) & 0x3, 0u) << "PPF and PFO clear after dmar_fault";
  EXPECT_FALSE(m.Dma(0x10005000).ok);
  EXPECT_EQ(m.Stat("faults.recorded"), 3u) << "recording resumes";
}

}  // namespace
}  // namespace svaemu::hw::vtd
