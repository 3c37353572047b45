// Rules of the VT-d specification for requests the third review found
// missing: the root-table-mode faults (RTA.1-RTA.3: 0x30-0x32), RID_PASID
// beyond the PASID table (SCT.9, 0x48), the interrupt address range for
// requests without PASID and for pass-through (3.15), 1-GByte first-stage
// pages only with CAP.FL1GP, the capability fields MHMV and PRS/PDS, and
// the completions of ATS translation requests (4.2.3; docs/vtd.md "ATS
// completions").
#include "gtest/gtest.h"
#include "svaemu/hw/pci/dma.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

using testing::kDid;
using testing::kPasid;
using testing::kSid;
using testing::VtdMachine;

class VtdRequestRules : public testing::BoundPageTest {
 protected:
  // Latches `ttm` as the active translation table mode (RTADDR, then
  // GCMD.SRTP with the enables kept).
  void SetTtm(uint64_t ttm) {
    const uint64_t rta = m_.vtd->Read64(kRtaddrReg);
    m_.vtd->Write64(kRtaddrReg, SetBits(rta, Rtaddr::kTtmHi, Rtaddr::kTtmLo, ttm));
    const uint32_t gsts = m_.vtd->Read32(kGstsReg);
    const uint32_t keep = (1u << Gcmd::kTe) | (1u << Gcmd::kQie);
    m_.vtd->Write32(kGcmdReg, (gsts & keep) | (1u << Gcmd::kSrtp));
    m_.FlushAll();  // (as software must after SRTP: 6.5, cached entries stay)
  }
};

// The device attached with its device TLB in use (context DTE = 1).
class VtdAtsCompletions : public testing::BoundPageTest {
 protected:
  VtdAtsCompletions() { attach_.ats = true; }
  pci::AtsCompletion Ats(uint64_t addr, bool write = false, bool exec = false,
                         uint16_t sid = kSid) {
    return m_.vtd->AtsTranslate(pci::DmaRequest{.rid = StreamId(sid),
                                                .has_pasid = true,
                                                .pasid = Pasid(kPasid),
                                                .addr = VirtAddr(addr),
                                                .write = write,
                                                .exec = exec});
  }
};

// 9.4 RID_PRIV: a request without PASID is supervisor when the context
// says so, and a PASID entry without SRE then refuses it (SPT.x 0x5D) —
// every time, also when the IOTLB holds the page for RID_PASID from a user
// request with that PASID (the inline check must not take the request's
// own privilege).
class VtdRidPriv : public testing::BoundPageTest {
 protected:
  VtdRidPriv() { attach_.rid_pasid = kPasid; }  // (the bound PASID's entry has SRE = 0)
};

TEST_F(VtdRidPriv, RequestsWithoutPasidAreSupervisorOnEveryRequest) {
  const PhysAddr ce = m_.ContextEntry(kSid);
  m_.Write64(ce + 8, m_.Read64(ce + 8) | (1ull << 20));  // RID_PRIV: bit 84
  m_.FlushAll();
  ASSERT_TRUE(m_.Dma(va_.value()).ok) << "with PASID (RID_PASID's), user: fills the IOTLB";
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid, 0, /*has_pasid=*/false).fault,
              FaultReason::kPasidSreClear)
        << "request " << i;
  }
}

// SRE and ERE are reserved where ECAP.SRS / ECAP.ERS say the hardware has
// no such requests (SPT.3, 0x5A).
TEST(VtdPasidEntryRules, SreWithoutSrsAndEreWithoutErsAreReserved) {
  for (const bool ere : {false, true}) {
    VtdMachine m({.supervisor_requests = ere, .execute_requests = !ere});
    kernel::Mm& mm = m.NewMm();
    const uint64_t va = mm.Mmap(4096, kernel::kProtRead, true)->value();
    m.Bind(mm);
    ASSERT_TRUE(m.Dma(va).ok);
    const PhysAddr qw2 = m.PasidEntry(kSid, kPasid) + 16;
    m.Write64(qw2, m.Read64(qw2) | (ere ? 2u : 1u));  // ERE: bit 129, SRE: bit 128
    m.FlushAll();
    EXPECT_EQ(m.Dma(va).fault, FaultReason::kPasidReserved) << (ere ? "ERE" : "SRE");
  }
}

TEST_F(VtdRequestRules, LegacyModeFaultsRequestsWithPasidAs0x31) {
  SetTtm(Rtaddr::kTtmLegacy);
  const VtdResult with = m_.Dma(va_.value());
  EXPECT_EQ(with.fault, FaultReason::kTtmLegacyPasid);
  EXPECT_EQ(static_cast<int>(with.fault), 0x31);
  EXPECT_TRUE(with.recorded);
  // Found before any context entry, so no FPD can suppress them (7.1.1).
  EXPECT_FALSE(QualifiedFault(FaultReason::kTtmLegacyPasid));
  EXPECT_FALSE(QualifiedFault(FaultReason::kTtmLegacyPageRequest));
  // Legacy translation is not modelled: without PASID, RTA.1 (0x30).
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid, 0, /*has_pasid=*/false).fault,
            FaultReason::kSmInvalidRootTable);
}

TEST_F(VtdRequestRules, AbortDmaModeWithoutAdmsAndReservedModeAre0x30) {
  EXPECT_FALSE(Bit(m_.vtd->Read64(kEcapReg), Ecap::kAdms));
  SetTtm(Rtaddr::kTtmAbortDma);
  const VtdResult r = m_.Dma(va_.value());
  EXPECT_EQ(r.fault, FaultReason::kSmInvalidRootTable);
  EXPECT_TRUE(r.recorded);
  SetTtm(0b10);
  EXPECT_EQ(m_.Dma(va_.value()).fault, FaultReason::kSmInvalidRootTable);
}

TEST_F(VtdRequestRules, PageRequestInLegacyModeIs0x32AndAnsweredByHardware) {
  SetTtm(Rtaddr::kTtmLegacy);
  const uint64_t written = m_.Stat("prq.requests");
  m_.vtd->SendPageRequest(pci::PageRequest{.rid = StreamId(kSid),
                                           .has_pasid = true,
                                           .pasid = Pasid(kPasid),
                                           .addr = va_,
                                           .read = true,
                                           .last = true});
  ASSERT_FALSE(m_.vtd->fault_log().empty());
  EXPECT_EQ(m_.vtd->fault_log().back().reason, FaultReason::kTtmLegacyPageRequest);
  EXPECT_EQ(m_.Stat("prq.requests"), written) << "not written to the page request queue";
}

TEST_F(VtdRequestRules, RidPasidBeyondThePasidTableIsSct9) {
  const PhysAddr ce = m_.ContextEntry(kSid);
  const uint64_t lo = m_.Read64(ce), hi = m_.Read64(ce + 8);
  m_.Write64(ce, lo & ~BitMask(11, 9));                   // PDTS = 0: 8,192 PASIDs
  m_.Write64(ce + 8, (hi & ~BitMask(19, 0)) | 128 * 64);  // RID_PASID 8,192
  m_.FlushAll();
  const VtdResult r = m_.Dma(va_.value(), false, false, false, kSid, 0, /*has_pasid=*/false);
  EXPECT_EQ(r.fault, FaultReason::kRidPasidError);
  EXPECT_EQ(static_cast<int>(r.fault), 0x48);
  // A request's own PASID beyond the table stays SCT.7.
  EXPECT_EQ(m_.Dma(va_.value(), false, false, false, kSid, 128 * 64).fault,
            FaultReason::kPasidTooLarge);
  m_.Write64(ce, lo);
  m_.Write64(ce + 8, hi);
}

TEST_F(VtdRequestRules, RequestWithoutPasidToTheInterruptRangeIsNotRemapped) {
  const size_t faults = m_.vtd->fault_log().size();
  const VtdResult r = m_.Dma(0xfee00000, /*write=*/true, false, false, kSid, 0,
                             /*has_pasid=*/false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.fault, FaultReason::kNone);
  EXPECT_EQ(m_.vtd->fault_log().size(), faults) << "an interrupt request, not a DMA fault";
  EXPECT_EQ(m_.Stat("interrupt_requests"), 1u);
  // With PASID the same address is translated as any other (unmapped here).
  EXPECT_EQ(m_.Dma(0xfee00000).fault, FaultReason::kFsNotPresent);
}

TEST_F(VtdRequestRules, PassThroughWithPasidBlocksTheInterruptRange) {
  constexpr uint32_t kPtPasid = 9;
  ASSERT_TRUE(
      m_.drv->SetupPassThroughPasid(StreamId(kSid), Pasid(kPtPasid), DomainId(kDid), false).ok());
  const VtdResult plain = m_.Dma(0x12345000, false, false, false, kSid, kPtPasid);
  ASSERT_TRUE(plain.ok);
  EXPECT_EQ(plain.pa, PhysAddr(0x12345000));
  const VtdResult blocked = m_.Dma(0xfee00040, true, false, false, kSid, kPtPasid);
  EXPECT_EQ(blocked.fault, FaultReason::kInterruptRange);
  EXPECT_TRUE(blocked.recorded);
}

TEST(VtdOneGigPages, PdpeLeafIsReservedWithoutFl1gp) {
  for (const bool fl1gp : {true, false}) {
    VtdMachine m({.one_gig_pages = fl1gp});
    EXPECT_EQ(Bit(m.vtd->Read64(kCapReg), Cap::kFl1gp), fl1gp);
    kernel::Mm& mm = m.NewMm();
    const VirtAddr va = *mm.Mmap(4096, kernel::kProtRead | kernel::kProtWrite, true);
    m.Bind(mm);
    PhysAddr table = mm.pgd();
    PhysAddr pdpe;
    for (int l = 4; l >= 3; --l) {
      pdpe = table + 8 * ((va.value() >> (12 + 9 * (l - 1))) & 511);
      table = PhysAddr(m.Read64(pdpe) & BitMask(51, 12));
    }
    const uint64_t old = m.Read64(pdpe);
    m.Write64(pdpe, 0x40000000 | 0xa7);  // 1 GiB leaf: P, R/W, U/S, A, PS
    m.FlushAll();
    const VtdResult r = m.Dma(va.value());
    if (fl1gp) {
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.pa.value(), 0x40000000 + (va.value() & BitMask(29, 0)));
    } else {
      EXPECT_EQ(r.fault, FaultReason::kFsReserved);
    }
    m.Write64(pdpe, old);
    m.FlushAll();
  }
}

TEST(VtdCapabilities, MhmvIsZeroAndPageRequestsNeedTheDeviceTlb) {
  VtdMachine m;
  const uint64_t ecap = m.vtd->Read64(kEcapReg);
  EXPECT_EQ(Bits(ecap, Ecap::kMhmvHi, Ecap::kMhmvLo), 0u) << "no interrupt remapping";
  EXPECT_TRUE(Bit(ecap, Ecap::kPrs));
  EXPECT_TRUE(Bit(ecap, Ecap::kPds));
  VtdMachine no_dt({.device_tlb = false});
  const uint64_t e2 = no_dt.vtd->Read64(kEcapReg);
  EXPECT_FALSE(Bit(e2, Ecap::kDt));
  EXPECT_FALSE(Bit(e2, Ecap::kPrs));
  EXPECT_FALSE(Bit(e2, Ecap::kPds));
}

// --- ATS translation requests ----------------------------------------------

TEST_F(VtdAtsCompletions, AtsWriteToReadOnlyPageIsSuccessWithReadOnly) {
  const VirtAddr ro = *mm_->Mmap(4096, kernel::kProtRead, true);
  const size_t faults = m_.vtd->fault_log().size();
  const pci::AtsCompletion c = Ats(ro.value(), /*write=*/true);
  EXPECT_EQ(c.code, pci::AtsCompletion::Code::kSuccess);
  EXPECT_TRUE(c.read);
  EXPECT_FALSE(c.write);
  EXPECT_EQ(c.pa, mm_->Lookup(ro)->pa);
  EXPECT_EQ(m_.vtd->fault_log().size(), faults) << "SGN.6 is answered, not recorded";
  const pci::AtsCompletion rw = Ats(va_.value(), /*write=*/true);
  EXPECT_EQ(rw.code, pci::AtsCompletion::Code::kSuccess);
  EXPECT_TRUE(rw.write);
}

TEST_F(VtdAtsCompletions, AtsExecuteOfNonExecutablePageGrantsTheRest) {
  // The mapping is read/write without execute (XD).
  const pci::AtsCompletion c = Ats(va_.value(), false, /*exec=*/true);
  EXPECT_EQ(c.code, pci::AtsCompletion::Code::kSuccess);
  EXPECT_TRUE(c.read);
  EXPECT_FALSE(c.exec);
}

TEST_F(VtdAtsCompletions, AtsNotPresentIsSuccessWithNoAccess) {
  EXPECT_EQ(Ats(va_.value() + 64 * 4096).code, pci::AtsCompletion::Code::kNotPresent);
}

TEST_F(VtdAtsCompletions, AtsConfigurationFaultsAreUnsupportedOrCompleterAbort) {
  // Not present (context entry of another device): UR.
  EXPECT_EQ(Ats(va_.value(), false, false, kSid + 1).code, pci::AtsCompletion::Code::kUnsupported);
  // A reserved bit in the PASID entry: a programming error, CA.
  const PhysAddr pe = m_.PasidEntry(kSid, kPasid);
  m_.Write64(pe + 24, 1);  // [255:192] reserved
  m_.FlushAll();
  EXPECT_EQ(Ats(va_.value()).code, pci::AtsCompletion::Code::kCompleterAbort);
  ASSERT_FALSE(m_.vtd->fault_log().empty());
  EXPECT_EQ(m_.vtd->fault_log().back().reason, FaultReason::kPasidReserved);
  m_.Write64(pe + 24, 0);
  m_.FlushAll();
  // DTE = 0 (the device TLB not enabled for the device): UR.
  const PhysAddr ce = m_.ContextEntry(kSid);
  const uint64_t lo = m_.Read64(ce);
  m_.Write64(ce, lo & ~(1ull << 2));
  m_.FlushAll();
  EXPECT_EQ(Ats(va_.value()).code, pci::AtsCompletion::Code::kUnsupported);
  EXPECT_EQ(m_.vtd->fault_log().back().reason, FaultReason::kContextDteClear);
  m_.Write64(ce, lo);
}

}  // namespace
}  // namespace svaemu::hw::vtd
