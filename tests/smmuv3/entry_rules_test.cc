// The validity rules of STEs, CDs and level-1 stream table descriptors
// (IHI 0070 5.1, 5.2, 5.4, 5.5): which values are ILLEGAL (C_BAD_STE,
// C_BAD_CD), which reserved values behave as another, and which fields are
// IGNORED in a given configuration. Each test changes one field of an entry
// the driver wrote, invalidates it, and issues one DMA.
#include <optional>

#include "gtest/gtest.h"
#include "smmuv3/one_master_fixture.h"

namespace svaemu::hw::smmuv3 {
namespace {

class SmmuEntryRules : public SmmuOneMasterTest {};

// --- STE (5.2) --------------------------------------------------------------

TEST_F(SmmuEntryRules, ReservedSteConfigBehavesAsAbortWithoutEvent) {
  Build();
  for (uint64_t config : {0b001, 0b010, 0b011}) {
    SetSte(Ste::kConfig, config);
    TransStatus s{};
    EXPECT_EQ(EventOf(kSsid, &s), std::nullopt) << config;
    EXPECT_EQ(s, TransStatus::kAborted) << config;
  }
}

TEST_F(SmmuEntryRules, ReservedS1FmtBehavesAsLinear) {
  Build();  // 8 SSID bits: the driver's CD table is linear
  SetSte(Ste::kS1Fmt, 0b11);
  EXPECT_TRUE(Translates());
}

TEST_F(SmmuEntryRules, ReservedS1DssBehavesAsTerminate) {
  Build();
  SetSte(Ste::kS1DSS, Ste::kS1DSSBypass);
  EXPECT_TRUE(Translates(std::nullopt));  // bypass: no-SSID traffic passes
  SetSte(Ste::kS1DSS, 0b11);
  EXPECT_EQ(EventOf(std::nullopt), EventType::kFStreamDisabled);
}

TEST_F(SmmuEntryRules, S1StalldIsIllegalUnlessStallModelAllowsStalls) {
  Build();  // STALL_MODEL 0b00: S1STALLD is legal
  SetSte(Ste::kS1STALLD, 1);
  EXPECT_TRUE(Translates());
  Build({.stall_model = StallModel::kTerminateOnly});
  SetSte(Ste::kS1STALLD, 1);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadSte);
  Build({.stall_model = StallModel::kStallForced}, /*stall=*/true);
  SetSte(Ste::kS1STALLD, 1);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadSte);
}

TEST_F(SmmuEntryRules, EatsIsIgnoredWithoutAts) {
  Build({.ats = false, .pri = false});
  SetSte(Ste::kEATS, Ste::kEATSTrans);
  EXPECT_TRUE(Translates());
}

TEST_F(SmmuEntryRules, SplitStageEatsIsIllegalWithoutNesting) {
  Build();
  SetSte(Ste::kEATS, 0b10);  // legal only with Config 0b111
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadSte);
  SetSte(Ste::kEATS, 0b11);  // reserved without IDR3.DPT: behaves as 0b00
  EXPECT_TRUE(Translates());
}

TEST_F(SmmuEntryRules, AtsRequestToBypassSteIsBadAtsTreqWhateverEats) {
  Build();
  SetSte(Ste::kEATS, Ste::kEATSTrans);
  SetSte(Ste::kConfig, Ste::kConfigBypass);  // EATS IGNORED (Config[1:0] == 0)
  const pci::AtsCompletion c =
      m_->smmu.AtsTranslate(pci::DmaRequest{.rid = StreamId(kSid), .addr = VirtAddr(0x4000)});
  m_->Run();
  EXPECT_EQ(c.code, pci::AtsCompletion::Code::kUnsupported);
  ASSERT_FALSE(m_->driver->events_seen().empty());
  EXPECT_EQ(m_->driver->events_seen().back().type, EventType::kFBadAtsTreq);
}

// --- CD (5.4, 5.5) ----------------------------------------------------------

TEST_F(SmmuEntryRules, CdStallBitMustMatchTheStallModel) {
  // 0b10: stalls forced, so S == 0 is ILLEGAL (and the driver writes S = 1).
  Build({.stall_model = StallModel::kStallForced}, /*stall=*/true);
  EXPECT_TRUE(Translates());
  SetCd(Cd::kS, 0);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
  // 0b01: no stalls, so S == 1 is ILLEGAL.
  Build({.stall_model = StallModel::kTerminateOnly});
  SetCd(Cd::kS, 1);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
  // 0b00: S == 1 is ILLEGAL only with STE.S1STALLD == 1.
  Build({}, /*stall=*/true);
  EXPECT_TRUE(Translates());
  SetSte(Ste::kS1STALLD, 1);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
}

TEST_F(SmmuEntryRules, CdWithoutAbortTerminationIsIllegalUnderTermModel) {
  Build();
  EXPECT_EQ(m_->smmu.MmioRead(kIdr0, 4) >> 26 & 1, 1u);  // TERM_MODEL
  SetCd(Cd::kA, 0);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
}

TEST_F(SmmuEntryRules, BigEndianTablesAreIllegalUnlessBothHalvesDisabled) {
  Build();
  SetCd(Cd::kENDI, 1);  // IDR0.TTENDIAN == 0b10: little-endian only
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
  SetCd(Cd::kEPD0, 1);  // both halves disabled: ENDI IGNORED
  EXPECT_EQ(EventOf(kSsid), EventType::kFTranslation);
}

TEST_F(SmmuEntryRules, WideAsidIsIllegalWithEightBitAsids) {
  Build({.asid16 = false});
  SetCd(Cd::kASID, 0xff);
  EXPECT_TRUE(Translates());
  SetCd(Cd::kASID, 0x100);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
}

TEST_F(SmmuEntryRules, TableBaseBeyondTheEffectiveIpsIsIllegal) {
  Build();
  const Cd cd = *m_->driver->ReadCd(StreamId(kSid), kSsid);
  // A 32-bit IPS: the driver's TTB0 (below 4 GiB) is in range ...
  ASSERT_LT(cd.ttb0().value(), 1ull << 32);
  SetCd(Cd::kIPS, 0b000);
  EXPECT_TRUE(Translates());
  // ... and one at 8 GiB is not, although it is inside the 48-bit OAS.
  SetCd(Cd::kTTB0, (1ull << 33) >> 4);
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadCd);
}

TEST_F(SmmuEntryRules, Had0IgnoresTheHierarchicalControlsOfTtb0Tables) {
  Build();
  SetDescriptorBit(0, arch::Arm64Desc::kApTable1, true);  // L0: no write below
  TransStatus s{};
  EXPECT_EQ(m_->Dma(kSid, kSsid, va_, /*write=*/true).fault, EventType::kFPermission);
  SetCd(Cd::kHAD0, 1);  // IDR3.HAD: APTable of TTB0's tables IGNORED
  ASSERT_TRUE(m_->driver->Submit({MakeTlbiNhAll()}).ok());
  s = m_->Dma(kSid, kSsid, va_, /*write=*/true).status;
  EXPECT_EQ(s, TransStatus::kTranslated);
  SetCd(Cd::kHAD0, 0);
  SetCd(Cd::kHAD1, 1);  // the other half's bit changes nothing here
  ASSERT_TRUE(m_->driver->Submit({MakeTlbiNhAll()}).ok());
  EXPECT_EQ(m_->Dma(kSid, kSsid, va_, /*write=*/true).fault, EventType::kFPermission);
}

TEST_F(SmmuEntryRules, AffdTurnsOffAccessFlagFaultsWithoutHttu) {
  Build({.httu = 0});
  SetDescriptorBit(3, arch::Arm64Desc::kAf, false);  // the page's AF
  EXPECT_EQ(EventOf(kSsid), EventType::kFAccess);
  SetCd(Cd::kAFFD, 1);
  EXPECT_TRUE(Translates());
}

// --- Level-1 stream table descriptors (5.1, 7.3.3) -------------------------

class SmmuStreamTableRules : public SmmuEntryRules {
 protected:
  // Rewrites the L1STD over kSid with `span`.
  void SetSpan(uint64_t span) {
    const uint64_t cfg = m_->smmu.MmioRead(kStrtabBaseCfg, 4);
    const uint64_t split = strtab_base_cfg::kSplit.Get(cfg);
    const PhysAddr l1(m_->smmu.MmioRead(kStrtabBase, 8) & BitMask(51, 6));
    const PhysAddr d = l1 + 8 * (kSid >> split);
    uint64_t v = 0;
    m_->mem.Read64(d, mem::Access::Cpu(), &v);
    L1Std std_;
    std_.dw[0] = v;
    std_.Set(L1Std::kSpan, span);
    m_->mem.Write64(d, std_.dw[0], mem::Access::Cpu());
    ASSERT_TRUE(m_->driver->Submit({MakeCfgiSte(StreamId(kSid), true)}).ok());
  }
};

TEST_F(SmmuStreamTableRules, SpanAboveSplitPlusOneIsCBadStreamid) {
  Build();
  ASSERT_EQ(strtab_base_cfg::kSplit.Get(m_->smmu.MmioRead(kStrtabBaseCfg, 4)), 8u);
  SetSpan(9);  // SPLIT + 1: legal
  EXPECT_TRUE(Translates());
  SetSpan(10);  // beyond SPLIT + 1
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadStreamid);
  SetSpan(12);  // reserved: behaves as 0
  EXPECT_EQ(EventOf(kSsid), EventType::kCBadStreamid);
  // The record carries the SubstreamID of the request (7.3.3).
  EXPECT_TRUE(m_->driver->events_seen().back().ssv);
  EXPECT_EQ(m_->driver->events_seen().back().ssid, kSsid);
}

TEST_F(SmmuStreamTableRules, BadLevel1DescriptorIsRecordedOnlyWithRecinvsid) {
  Build();
  SetSpan(0);
  m_->smmu.MmioWrite(kCr2, m_->smmu.MmioRead(kCr2, 4) & ~uint64_t{cr2::kRecinvsid.Mask()}, 4);
  TransStatus s{};
  EXPECT_EQ(EventOf(kSsid, &s), std::nullopt);
  EXPECT_EQ(s, TransStatus::kAborted);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
