// Rules of the VT-d specification a second review found the model missing:
// fault logging while PFO is set and the fault-event conditions (11.4.9),
// qualified faults (7.1.1), fault reasons 0x5B, 0x73 and 0x87, root-entry
// halves (9.2), ECAP bits, register invalidation outside legacy mode,
// IQE information, IQH reset, TE clear, P_IOTLB address masks beyond MAMV,
// page-selective IOTLB invalidation of first-stage entries, PRO events,
// the 16-bit interrupt data registers.
#include "gtest/gtest.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kDid;
using testing::kPasid;
using testing::kSid;
using testing::VtdMachine;

class VtdSpecRules : public testing::BoundPageTest {
 protected:
  uint64_t Iqei() { return Bits(m_.vtd->Read64(kIqercdReg), Iqercd::kIqeiHi, Iqercd::kIqeiLo); }
};

TEST(VtdFaultEvents, NothingIsRecordedWhilePfoIsSetAndPfoRaisesNoEvent) {
  testing::OverflowedFaultRecords o;
  VtdMachine& m = o.m;
  ASSERT_TRUE(Bit(m.vtd->Read32(kFstsReg), Fsts::kPfo));
  // Free register 0 by hand but leave PFO set: still nothing is recorded.
  m.vtd->Write64(kFrcdBase + 8, 1ull << Frcd::kF);
  EXPECT_FALSE(m.Dma(0x10008000).ok);
  EXPECT_EQ(m.Stat("faults.recorded"), 2u);
  EXPECT_EQ(m.Stat("faults.lost"), 2u);
  // Clearing every status field clears IP; setting PFO again raises none.
  m.vtd->Write64(kFrcdBase + 24, 1ull << Frcd::kF);
  m.vtd->Write32(kFstsReg, 1u << Fsts::kPfo);
  ASSERT_FALSE(Bit(m.vtd->Read32(kFectlReg), EventCtl::kIp));
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(m.Dma(0x10010000 + 4096 * i).ok);
  EXPECT_TRUE(Bit(m.vtd->Read32(kFectlReg), EventCtl::kIp));  // the PPF event
  m.vtd->Write32(kFstsReg, 0);                                // (IP stays: PPF is pending)
  const uint64_t ctl = m.vtd->Read32(kFectlReg);
  EXPECT_FALSE(m.Dma(0x10020000).ok);
  EXPECT_TRUE(Bit(m.vtd->Read32(kFstsReg), Fsts::kPfo));
  EXPECT_EQ(m.vtd->Read32(kFectlReg), ctl);
}

TEST(VtdFaultEvents, IqeWhileAFaultIsPendingRaisesNoNewEvent) {
  VtdMachine m;
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm);
  m.vtd->Write32(kFectlReg, 1u << EventCtl::kIm);
  EXPECT_FALSE(m.Dma(0x10000000).ok);  // PPF: IP set
  ASSERT_TRUE(Bit(m.vtd->Read32(kFectlReg), EventCtl::kIp));
  // Clear IP by unmasking and re-masking (the event is delivered) ...
  m.vtd->Write32(kFectlReg, 0);
  m.vtd->Write32(kFectlReg, 1u << EventCtl::kIm);
  const uint64_t raised = m.vtd->fault_irq().raised();
  // ... then an IQE with PPF still set in FSTS: no event condition.
  ASSERT_TRUE(Bit(m.vtd->Read32(kFstsReg), Fsts::kPpf));
  // A tail beyond the queue.
  m.vtd->Write64(kIqtReg, 4096ull << Bits(m.vtd->Read64(kIqaReg), 2, 0));
  EXPECT_TRUE(Bit(m.vtd->Read32(kFstsReg), Fsts::kIqe));
  EXPECT_FALSE(Bit(m.vtd->Read32(kFectlReg), EventCtl::kIp));
  EXPECT_EQ(m.vtd->fault_irq().raised(), raised);
}

TEST_F(VtdSpecRules, FpdDoesNotSuppressPasidTableAccessErrors) {
  // FPD in the context entry; the PASID directory entry points its table
  // outside memory (within HAW): SPT.1 (0x58) is not a qualified fault.
  const PhysAddr ce = m_.ContextEntry(kSid);
  m_.Write64(ce, m_.Read64(ce) | 2);  // FPD
  const PhysAddr de = m_.PasidDirEntry(kSid, kPasid);
  const uint64_t dv = m_.Read64(de);
  m_.Write64(de, (dv & 0xfff) | (1ull << 45));
  m_.FlushAll();
  const VtdResult r = m_.Dma(va_.value());
  EXPECT_EQ(r.fault, FaultReason::kPasidAccessError);
  EXPECT_TRUE(r.recorded);
  // A qualified fault (PASID entry not present) under the same FPD is not.
  m_.Write64(de, dv);
  m_.Write64(m_.PasidEntry(kSid, kPasid), 0);
  m_.FlushAll();
  const VtdResult q = m_.Dma(va_.value());
  EXPECT_EQ(q.fault, FaultReason::kPasidNotPresent);
  EXPECT_FALSE(q.recorded);
}

TEST_F(VtdSpecRules, UnsupportedFirstStagePagingModeIsInvalidPasidEntry) {
  const PhysAddr pe = m_.PasidEntry(kSid, kPasid) + 16;  // FSPM: bits [131:130]
  const uint64_t v = m_.Read64(pe);
  m_.Write64(pe, v | (2ull << 2));  // FSPM = 2: reserved
  m_.FlushAll();
  EXPECT_EQ(m_.Dma(va_.value()).fault, FaultReason::kPasidInvalid);  // SPT.4, 0x5B
  EXPECT_EQ(static_cast<int>(FaultReason::kPasidInvalid), 0x5b);
}

// Bit 5 of a PASID entry is SLEE, a second-stage field (docs/vtd.md,
// "Decisions"): a first-stage entry with it set translates as without it.
TEST_F(VtdSpecRules, SecondStageExecuteEnableIsNotAReservedBit) {
  const PhysAddr pe = m_.PasidEntry(kSid, kPasid);
  m_.Write64(pe, m_.Read64(pe) | (1u << 5));
  m_.FlushAll();
  const VtdResult r = m_.Dma(va_.value());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.fault, FaultReason::kNone);
  EXPECT_EQ(r.pa, mm_->Lookup(va_)->pa);
  EXPECT_FALSE(Bit(m_.vtd->Read32(kFstsReg), Fsts::kPpf)) << "no fault recorded";
}

TEST_F(VtdSpecRules, TopLevelTableOutsideMemoryIsSfs4) {
  const PhysAddr pe = m_.PasidEntry(kSid, kPasid);
  const uint64_t w2 = m_.Read64(pe + 16);            // FSPTPTR: bits [191:140]
  m_.Write64(pe + 16, (w2 & 0xfff) | (1ull << 45));  // within HAW, beyond memory
  m_.FlushAll();
  EXPECT_EQ(m_.Dma(va_.value()).fault, FaultReason::kFsRootAccessError);
  EXPECT_EQ(static_cast<int>(FaultReason::kFsRootAccessError), 0x73);
}

TEST_F(VtdSpecRules, OnlyTheUsedRootEntryHalfIsChecked) {
  // kSid's devfn is below 128: reserved bits in the upper half are not
  // looked at.
  const PhysAddr re = m_.RootEntry(kSid);
  m_.Write64(re + 8, m_.Read64(re + 8) | 0x2);
  m_.FlushAll();
  EXPECT_TRUE(m_.Dma(va_.value()).ok);
}

TEST_F(VtdSpecRules, OutputInTheInterruptRangeIsBlocked) {
  // Point va_'s PTE (x86 4-level, from the mm's pgd) at 0xFEE01000.
  PhysAddr table = mm_->pgd();
  PhysAddr pte;
  for (int level = 4; level >= 1; --level) {
    pte = table + 8 * ((va_.value() >> (12 + 9 * (level - 1))) & 511);
    table = PhysAddr(m_.Read64(pte) & BitMask(51, 12));
  }
  const uint64_t old = m_.Read64(pte);
  m_.Write64(pte, (old & ~BitMask(51, 12)) | 0xfee01000);
  m_.FlushAll();
  const VtdResult r = m_.Dma(va_.value());
  EXPECT_EQ(r.fault, FaultReason::kInterruptRange);
  EXPECT_EQ(static_cast<int>(FaultReason::kInterruptRange), 0x87);
  EXPECT_TRUE(r.recorded);
  EXPECT_EQ(m_.vtd->CachedLinesOf(kDid, kPasid), 3u) << "paging-structure entries only";
  m_.Write64(pte, old);
}

TEST(VtdCapabilities, EcapAdvertisesRidPasidRidPrivAndWalkCoherency) {
  VtdMachine m;
  const uint64_t ecap = m.vtd->Read64(kEcapReg);
  EXPECT_TRUE(Bit(ecap, Ecap::kRps));
  EXPECT_TRUE(Bit(ecap, Ecap::kRprivs));
  EXPECT_TRUE(Bit(ecap, Ecap::kSmpwcs));
  EXPECT_EQ(Ecap::kSmpwcs, 48u);
  EXPECT_EQ(Ecap::kRps, 49u);
  EXPECT_EQ(Ecap::kRprivs, 53u);
  VtdMachine no_srs({.supervisor_requests = false});
  EXPECT_FALSE(Bit(no_srs.vtd->Read64(kEcapReg), Ecap::kRprivs));
}

TEST_F(VtdSpecRules, RegisterInvalidationIsRefusedInScalableMode) {
  // QI off, so only the translation-table mode refuses it.
  m_.vtd->Write32(kGcmdReg, (1u << Gcmd::kTe));  // clears QIE
  ASSERT_FALSE(Bit(m_.vtd->Read32(kGstsReg), Gcmd::kQie));
  m_.vtd->Write64(kCcmdReg, (1ull << Ccmd::kIcc) | (1ull << Ccmd::kCirgLo));  // global
  EXPECT_EQ(Bits(m_.vtd->Read64(kCcmdReg), Ccmd::kCaigHi, Ccmd::kCaigLo), 0u);
  m_.vtd->Write64(kIotlbReg, (1ull << IotlbReg::kIvt) | (1ull << IotlbReg::kIirgLo));
  EXPECT_EQ(Bits(m_.vtd->Read64(kIotlbReg), IotlbReg::kIaigHi, IotlbReg::kIaigLo), 0u);
  EXPECT_EQ(m_.vtd->cache_sizes().iotlb, 1u) << "nothing was invalidated";
}

TEST_F(VtdSpecRules, DisablingQiResetsTheHeadAndEnablingDoesNot) {
  ASSERT_NE(m_.vtd->Read64(kIqhReg), 0u);  // the driver has used the queue
  const uint64_t head = m_.vtd->Read64(kIqhReg);
  m_.vtd->Write32(kGcmdReg, (1u << Gcmd::kTe));  // QIE cleared
  EXPECT_EQ(m_.vtd->Read64(kIqhReg), 0u);
  m_.vtd->Write64(kIqtReg, 0);
  m_.vtd->Write32(kGcmdReg, (1u << Gcmd::kTe) | (1u << Gcmd::kQie));
  EXPECT_EQ(m_.vtd->Read64(kIqhReg), 0u);
  EXPECT_NE(head, 0u);
}

TEST_F(VtdSpecRules, ClearingTeInvalidatesEveryCache) {
  ASSERT_GT(m_.vtd->cache_sizes().iotlb, 0u);
  m_.vtd->Write32(kGcmdReg, 1u << Gcmd::kQie);  // TE cleared, QI kept
  const Vtd::CacheSizes s = m_.vtd->cache_sizes();
  EXPECT_EQ(s.context + s.pasid + s.iotlb + s.pde + s.pdpe + s.pml4e + s.pml5e, 0u);
}

TEST_F(VtdSpecRules, InvalidationQueueErrorInformation) {
  // A tail beyond the queue: 1. A 256-bit queue's tail not 32-byte
  // aligned: 6. 128-bit descriptors with a scalable-mode root table: 5.
  const uint64_t qbytes = 4096ull << Bits(m_.vtd->Read64(kIqaReg), 2, 0);
  const auto clear_iqe = [&] { m_.vtd->Write32(kFstsReg, 1u << Fsts::kIqe); };
  const uint64_t tail = m_.vtd->Read64(kIqtReg);
  m_.vtd->Write64(kIqtReg, qbytes);
  EXPECT_TRUE(Bit(m_.vtd->Read32(kFstsReg), Fsts::kIqe));
  EXPECT_EQ(Iqei(), 1u);
  m_.vtd->Write64(kIqtReg, tail);
  clear_iqe();
  m_.vtd->Write64(kIqtReg, tail + 16);
  EXPECT_EQ(Iqei(), 6u);
  m_.vtd->Write64(kIqtReg, tail);
  clear_iqe();
  m_.vtd->Write32(kGcmdReg, (1u << Gcmd::kTe));  // QI off to change IQA
  m_.vtd->Write64(kIqaReg, m_.vtd->Read64(kIqaReg) & ~(1ull << Iqa::kDw));
  m_.vtd->Write64(kIqtReg, 0);
  m_.vtd->Write32(kGcmdReg, (1u << Gcmd::kTe) | (1u << Gcmd::kQie));
  m_.vtd->Write64(kIqtReg, 16);
  EXPECT_TRUE(Bit(m_.vtd->Read32(kFstsReg), Fsts::kIqe));
  EXPECT_EQ(Iqei(), 5u);
}

TEST_F(VtdSpecRules, PiotlbAcceptsAnAddressMaskBeyondMamv) {
  const RawDesc d[] = {
      PiotlbDesc{.g = PiotlbDesc::kPageSelective, .did = kDid, .pasid = kPasid, .am = 40, .addr = 0}
          .Encode()};
  EXPECT_TRUE(m_.drv->SubmitSync(d).ok());
  EXPECT_FALSE(Bit(m_.vtd->Read32(kFstsReg), Fsts::kIqe));
  EXPECT_EQ(m_.vtd->CachedLinesOf(kDid, kPasid), 0u) << "the whole address space";
}

TEST_F(VtdSpecRules, PageSelectiveIotlbInvalidationDropsEveryFirstStageEntryOfTheDomain) {
  ASSERT_GT(m_.vtd->CachedLinesOf(kDid, kPasid), 0u);
  // A range far from va_: first-stage entries of the domain go anyway.
  const RawDesc d[] = {IotlbDesc{.g = 3, .did = kDid, .am = 0, .addr = 0x7000000000}.Encode()};
  ASSERT_TRUE(m_.drv->SubmitSync(d).ok());
  EXPECT_EQ(m_.vtd->CachedLinesOf(kDid, kPasid), 0u);
}

TEST(VtdRegisters, InterruptDataRegistersHoldSixteenBits) {
  VtdMachine m;
  for (uint32_t reg : {kFedataReg, kIedataReg, kPedataReg}) {
    m.vtd->Write32(reg, 0xffffffffu);
    EXPECT_EQ(m.vtd->Read32(reg), 0xffffu) << reg;
  }
}

}  // namespace
}  // namespace svaemu::hw::vtd
