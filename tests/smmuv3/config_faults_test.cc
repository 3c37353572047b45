// Every configuration error of 7.3 reachable from a malformed or missing
// entry: C_BAD_STREAMID, C_BAD_STE, C_BAD_SUBSTREAMID, C_BAD_CD,
// F_STREAM_DISABLED, F_STE_FETCH, F_CD_FETCH, F_TRANSL_FORBIDDEN,
// F_WALK_EABT — each one event, and an aborted transaction.
#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint32_t kSid = 0x10;

class SmmuConfigFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    mm_ = &m_.NewMm();
    va_ = m_.Populated(*mm_);
    ASSERT_TRUE(m_.driver->AttachMaster({.sid = StreamId(kSid), .ssid_bits = 8}).ok());
    ASSERT_TRUE(m_.driver->WriteSvaCd(StreamId(kSid), 1, mm_->pgd(), Asid(9)).ok());
  }
  // One DMA, then the events it produced.
  EventType FaultOf(uint32_t sid, std::optional<uint32_t> ssid, VirtAddr va) {
    const size_t before = m_.driver->events_seen().size();
    const TransResult r = m_.Dma(sid, ssid, va);
    EXPECT_EQ(r.status, TransStatus::kAborted);
    m_.Run();
    EXPECT_EQ(m_.driver->events_seen().size(), before + 1);  // exactly one event
    return m_.driver->events_seen().empty() ? EventType::kFUut
                                            : m_.driver->events_seen().back().type;
  }
  void WriteSteWord(int i, uint64_t v) {
    const PhysAddr ste = *m_.driver->SteAddress(StreamId(kSid));
    m_.mem.Write64(ste + 8ull * i, v, mem::Access::Cpu());
    ASSERT_TRUE(m_.driver->Submit({MakeCfgiSte(StreamId(kSid), true)}).ok());
  }
  SmmuMachine m_;
  kernel::Mm* mm_ = nullptr;
  VirtAddr va_;
};

TEST_F(SmmuConfigFaults, StreamIdBeyondTableIsCBadStreamid) {
  EXPECT_EQ(FaultOf(1u << 16, 1, va_), EventType::kCBadStreamid);
}

TEST_F(SmmuConfigFaults, StreamIdWithInvalidL1DescriptorIsCBadStreamid) {
  // SID 0x1234 lies under an L1STD the driver never filled (Span = 0).
  EXPECT_EQ(FaultOf(0x1234, 1, va_), EventType::kCBadStreamid);
}

TEST_F(SmmuConfigFaults, InvalidSteIsCBadSte) {
  EXPECT_EQ(FaultOf(kSid + 1, 1, va_), EventType::kCBadSte);  // V = 0
}

TEST_F(SmmuConfigFaults, Stage2SteConfigIsCBadSte) {
  Ste bad = *m_.driver->ReadSte(StreamId(kSid));
  bad.Set(Ste::kConfig, Ste::kConfigS2Trans);  // IDR0.S2P == 0
  WriteSteWord(0, bad.dw[0]);
  EXPECT_EQ(FaultOf(kSid, 1, va_), EventType::kCBadSte);
  EXPECT_TRUE(m_.driver->events_seen().back().ssv);
  EXPECT_EQ(m_.driver->events_seen().back().ssid, 1u);
}

TEST_F(SmmuConfigFaults, S1CdMaxBeyondSsidSizeIsCBadSte) {
  Ste bad = *m_.driver->ReadSte(StreamId(kSid));
  bad.Set(Ste::kS1CDMax, 21);  // IDR1.SSIDSIZE is 20
  WriteSteWord(0, bad.dw[0]);
  EXPECT_EQ(FaultOf(kSid, 1, va_), EventType::kCBadSte);
}

TEST_F(SmmuConfigFaults, SsidBeyondS1CdMaxIsCBadSubstreamid) {
  EXPECT_EQ(FaultOf(kSid, 1u << 8, va_), EventType::kCBadSubstreamid);
  EXPECT_EQ(m_.driver->events_seen().back().ssid, 1u << 8);
}

TEST_F(SmmuConfigFaults, InvalidCdIsCBadCd) {
  EXPECT_EQ(FaultOf(kSid, 2, va_), EventType::kCBadCd);  // CD 2 never written
}

TEST_F(SmmuConfigFaults, Aa32CdIsCBadCd) {
  const PhysAddr cd = *m_.driver->CdAddressOf(StreamId(kSid), 1);
  Cd bad = *m_.driver->ReadCd(StreamId(kSid), 1);
  bad.Set(Cd::kAA64, 0);
  m_.mem.Write64(cd, bad.dw[0], mem::Access::Cpu());
  ASSERT_TRUE(m_.driver->Submit({MakeCfgiCd(StreamId(kSid), 1, true)}).ok());
  EXPECT_EQ(FaultOf(kSid, 1, va_), EventType::kCBadCd);
}

TEST_F(SmmuConfigFaults, NoSsidWithS1dssTerminateIsStreamDisabled) {
  EXPECT_EQ(FaultOf(kSid, std::nullopt, va_), EventType::kFStreamDisabled);
}

TEST_F(SmmuConfigFaults, SteOutsideMemoryIsSteFetchAbort) {
  // An L1STD pointing beyond physical memory: the STE fetch aborts.
  L1Std d;
  d.Set(L1Std::kSpan, 9);
  d.Set(L1Std::kL2Ptr, (1ull << 47) >> 6);
  const uint64_t strtab = m_.smmu.MmioRead(kStrtabBase, 8) & BitMask(51, 6);
  m_.mem.Write64(PhysAddr(strtab + 8 * 0x20), d.dw[0], mem::Access::Cpu());
  EXPECT_EQ(FaultOf(0x2000, 1, va_), EventType::kFSteFetch);
  EXPECT_EQ(m_.driver->events_seen().back().fetch_addr, PhysAddr(1ull << 47));
}

TEST_F(SmmuConfigFaults, CdOutsideMemoryIsCdFetchAbort) {
  Ste bad = *m_.driver->ReadSte(StreamId(kSid));
  bad.Set(Ste::kS1ContextPtr, (1ull << 46) >> 6);
  WriteSteWord(0, bad.dw[0]);
  EXPECT_EQ(FaultOf(kSid, 1, va_), EventType::kFCdFetch);
}

TEST_F(SmmuConfigFaults, TableOutsideMemoryIsWalkExternalAbort) {
  // A CD whose TTB0 points beyond PhysMem (but within the OAS).
  const PhysAddr cd = *m_.driver->CdAddressOf(StreamId(kSid), 1);
  m_.mem.Write64(cd + 8, (1ull << 40), mem::Access::Cpu());  // TTB0
  ASSERT_TRUE(m_.driver->Submit({MakeCfgiCd(StreamId(kSid), 1, true)}).ok());
  EXPECT_EQ(FaultOf(kSid, 1, va_), EventType::kFWalkEabt);
}

TEST_F(SmmuConfigFaults, TranslatedTransactionWithoutAtsIsForbidden) {
  m_.smmu.MmioWrite(kCr0, m_.smmu.MmioRead(kCr0, 4) | 0x10, 4);  // ATSCHK
  // STE.EATS = 0.
  EXPECT_FALSE(m_.smmu.CheckTranslated(StreamId(kSid), PhysAddr(0x7000), /*write=*/true));
  m_.Run();
  const Event& e = m_.driver->events_seen().back();
  EXPECT_EQ(e.type, EventType::kFTranslForbidden);
  EXPECT_EQ(e.input_addr, VirtAddr(0x7000));
  EXPECT_FALSE(e.rnw);
}

TEST_F(SmmuConfigFaults, DisabledSmmuFollowsGbpa) {
  m_.smmu.MmioWrite(kCr0, 0, 4);
  EXPECT_EQ(m_.Dma(kSid, 1, VirtAddr(0x5000)).pa, PhysAddr(0x5000));  // bypass
  m_.smmu.MmioWrite(kGbpa, (1u << 31) | (1u << 20), 4);              // ABORT
  EXPECT_EQ(m_.Dma(kSid, 1, VirtAddr(0x5000)).status, TransStatus::kAborted);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
