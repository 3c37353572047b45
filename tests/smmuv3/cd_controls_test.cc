// The CD's address and permission controls (IHI 0070 5.4: TBI0/TBI1, PAN,
// WXN; 3.4.1 input range checks with TBI) and the STE's attribute overrides
// (5.2 PRIVCFG/INSTCFG; 13.1.2 writes are Data); ATS completions under them
// are in ats_completion_test.cc. Each test changes one field of an entry the
// driver wrote, invalidates it, and issues requests.
#include <optional>

#include "gtest/gtest.h"
#include "smmuv3/one_master_fixture.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint64_t kTag = 0x5aull << 56;

class SmmuCdControls : public SmmuOneMasterTest {
 protected:
  // One request of kSid/kSsid; the simulation then runs (events drained).
  TransResult Access(VirtAddr va, bool write = false, bool exec = false, bool priv = false) {
    const TransResult r = m_->smmu.Translate(TransReq{.sid = StreamId(kSid),
                                                      .ssv = true,
                                                      .ssid = kSsid,
                                                      .va = va,
                                                      .write = write,
                                                      .exec = exec,
                                                      .priv = priv});
    m_->Run();
    return r;
  }
  void TlbiAll() { ASSERT_TRUE(m_->driver->Submit({MakeTlbiNhAll()}).ok()); }
};

// --- TBI (5.4 CD.TBI0/TBI1, 3.4.1) -----------------------------------------

TEST_F(SmmuCdControls, TaggedAddressIsTranslationFaultWithoutTbi) {
  Build();
  const VirtAddr tagged(va_.value() | kTag);
  EXPECT_EQ(Access(tagged).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFTranslation);
  EXPECT_EQ(LastEvent().input_addr, tagged);
}

TEST_F(SmmuCdControls, TbiTranslatesTaggedAddressAsItsUntaggedForm) {
  Build();
  const PhysAddr pa = Access(va_ + 0x10).pa;
  SetCd(Cd::kTBI, 0b01);  // TBI0
  const TransResult t = Access(VirtAddr((va_.value() + 0x18) | kTag));
  ASSERT_EQ(t.status, TransStatus::kTranslated);
  EXPECT_EQ(t.pa, pa + 8);
  // The TLB holds the untagged page: the plain address now hits it.
  const uint64_t hits = m_->Stat("smmu0.tlb.hits");
  EXPECT_EQ(Access(va_).status, TransStatus::kTranslated);
  EXPECT_EQ(m_->Stat("smmu0.tlb.hits"), hits + 1);
  // TBI1 alone does not cover a TTB0 address.
  SetCd(Cd::kTBI, 0b10);
  EXPECT_EQ(Access(VirtAddr(va_.value() | kTag)).status, TransStatus::kAborted);
}

TEST_F(SmmuCdControls, FaultOfTaggedAddressRecordsTheAddressAsGiven) {
  Build();
  SetCd(Cd::kTBI, 0b01);
  const VirtAddr unmapped(((va_.value() + 64 * kPageSize4K)) | kTag);
  EXPECT_EQ(Access(unmapped).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFTranslation);
  EXPECT_EQ(LastEvent().input_addr, unmapped) << "7.3: TBI does not affect InputAddr";
  // VA[55:48] must still be a sign extension (only [63:56] are ignored).
  EXPECT_EQ(Access(VirtAddr(va_.value() | kTag | (1ull << 50))).status, TransStatus::kAborted);
}

TEST_F(SmmuCdControls, TlbiWithTaggedAddressInvalidatesTheUntaggedEntry) {
  Build();
  SetCd(Cd::kTBI, 0b01);
  ASSERT_EQ(Access(VirtAddr(va_.value() | kTag)).status, TransStatus::kTranslated);
  const uint64_t invalidated = m_->Stat("smmu0.tlb.invalidations");
  ASSERT_TRUE(m_->driver->Submit({MakeTlbiNhVa(Asid(9), VirtAddr(va_.value() | kTag), true)}).ok());
  EXPECT_EQ(m_->Stat("smmu0.tlb.invalidations"), invalidated + 1) << "4.4.2: TBI applied";
}

// --- PAN and WXN (5.4) -------------------------------------------------------

TEST_F(SmmuCdControls, PanFaultsPrivilegedDataAccessToUserPagesEvenAfterATlbFill) {
  Build();
  EXPECT_EQ(Access(va_, false, false, /*priv=*/true).status, TransStatus::kTranslated);
  SetCd(Cd::kPAN, 1);
  TlbiAll();  // (the CD's translations may be cached with the old controls)
  // An unprivileged access fills the TLB; the privileged one must not hit.
  EXPECT_EQ(Access(va_).status, TransStatus::kTranslated);
  EXPECT_EQ(Access(va_, false, false, /*priv=*/true).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFPermission);
  EXPECT_TRUE(LastEvent().pnu);
  EXPECT_EQ(Access(va_, /*write=*/true, false, /*priv=*/true).status, TransStatus::kAborted);
  EXPECT_EQ(Access(va_, /*write=*/true).status, TransStatus::kTranslated);
}

TEST_F(SmmuCdControls, WxnMakesWritablePagesExecuteNever) {
  Build();
  const VirtAddr rwx =
      *mm_->Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite | kernel::kProtExec, true);
  const VirtAddr rx = *mm_->Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtExec, true);
  EXPECT_EQ(Access(rwx, false, /*exec=*/true).status, TransStatus::kTranslated);
  SetCd(Cd::kWXN, 1);
  TlbiAll();
  EXPECT_EQ(Access(rwx, false, /*exec=*/true).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFPermission);
  EXPECT_TRUE(LastEvent().ind);
  EXPECT_EQ(Access(rx, false, /*exec=*/true).status, TransStatus::kTranslated);
  EXPECT_EQ(Access(rwx, /*write=*/true).status, TransStatus::kTranslated);
  EXPECT_EQ(Access(rwx).status, TransStatus::kTranslated);
  // The TLB entry those filled must not grant the instruction read.
  EXPECT_EQ(Access(rwx, false, /*exec=*/true).status, TransStatus::kAborted);
}

// --- STE attribute overrides (5.2 PRIVCFG/INSTCFG, 13.1.2) -------------------

TEST_F(SmmuCdControls, PrivcfgOverridesTheIncomingPrivilege) {
  Build();
  EXPECT_EQ(idr1::kAttrPermsOvr.Get(m_->smmu.Read32(kIdr1)), 1u);
  SetCd(Cd::kPAN, 1);
  TlbiAll();
  ASSERT_EQ(Access(va_).status, TransStatus::kTranslated);  // fills the TLB
  // Privileged by the STE: PAN now faults the (incoming unprivileged) read,
  // and the inline TLB check must not serve it with the incoming attribute.
  SetSte(Ste::kPRIVCFG, Ste::kPrivPrivileged);
  EXPECT_EQ(Access(va_).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFPermission);
  EXPECT_TRUE(LastEvent().pnu) << "7.3: PnU after the override";
  SetSte(Ste::kPRIVCFG, 0b01);  // reserved: the incoming attribute
  EXPECT_EQ(Access(va_).status, TransStatus::kTranslated);
  SetSte(Ste::kPRIVCFG, Ste::kPrivUnprivileged);
  EXPECT_EQ(Access(va_, false, false, /*priv=*/true).status, TransStatus::kTranslated);
}

TEST_F(SmmuCdControls, InstcfgMakesReadsInstructionFetchesButNotWrites) {
  Build();  // va_ is read/write, never executable (UXN)
  SetSte(Ste::kINSTCFG, Ste::kInstInstruction);
  EXPECT_EQ(Access(va_).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFPermission);
  EXPECT_TRUE(LastEvent().ind);
  EXPECT_EQ(Access(va_, /*write=*/true).status, TransStatus::kTranslated);
  SetSte(Ste::kINSTCFG, Ste::kInstData);
  EXPECT_EQ(Access(va_, false, /*exec=*/true).status, TransStatus::kTranslated);
}

TEST_F(SmmuCdControls, OverridesAreIgnoredWithoutAttrPermsOvr) {
  Build({.attr_perms_ovr = false});
  EXPECT_EQ(idr1::kAttrPermsOvr.Get(m_->smmu.Read32(kIdr1)), 0u);
  SetSte(Ste::kINSTCFG, Ste::kInstInstruction);  // RES0
  EXPECT_EQ(Access(va_).status, TransStatus::kTranslated);
}

TEST_F(SmmuCdControls, AWriteMarkedInstructionIsData) {
  Build();
  // 13.1.2: the write is checked as a data write (va_ is not executable).
  EXPECT_EQ(Access(va_, /*write=*/true, /*exec=*/true).status, TransStatus::kTranslated);
  const VirtAddr ro = *mm_->Mmap(kPageSize4K, kernel::kProtRead, true);
  EXPECT_EQ(Access(ro, /*write=*/true, /*exec=*/true).status, TransStatus::kAborted);
  EXPECT_EQ(LastEvent().type, EventType::kFPermission);
  EXPECT_FALSE(LastEvent().ind) << "7.3: InD == 0 when RnW == 0";
  EXPECT_FALSE(LastEvent().rnw);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
