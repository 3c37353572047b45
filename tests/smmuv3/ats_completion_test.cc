// ATS Translation Requests to the SMMUv3 (IHI 0070 3.9.1.2, 13.7, 13.7.1):
// the completion code for each kind of configuration error and fault, and
// the rights a Success completion grants under the page's permissions,
// CD.PAN/WXN and the STE's PRIVCFG/INSTCFG overrides. A Translation Request
// never records a fault event and never stalls. Each test changes one field
// of an entry the driver wrote (or one bit of the page's descriptor) and
// issues requests.
#include <string>

#include "gtest/gtest.h"
#include "smmuv3/one_master_fixture.h"

namespace svaemu::hw::smmuv3 {
namespace {

using Code = pci::AtsCompletion::Code;

constexpr uint64_t kTag = 0x5aull << 56;
// Stage-1 descriptor bits (D8.3): AP[1] (EL0 access), UXN.
constexpr unsigned kApUser = 6;
constexpr unsigned kUxn = 54;

// A Translation Request's flags (NW = !write).
struct Treq {
  bool write = false;
  bool exec = false;
  bool priv = false;
  bool pasid = true;
};

class SmmuAtsCompletions : public SmmuOneMasterTest {
 protected:
  // Build(), with ATS enabled in the master's STE.
  void BuildWithAts(SmmuV3Config cfg = {}) {
    Build(cfg);
    SetSte(Ste::kEATS, Ste::kEATSTrans);
  }
  pci::AtsCompletion Ats(VirtAddr va, Treq f = {}) {
    const pci::AtsCompletion c = m_->smmu.AtsTranslate(pci::DmaRequest{.rid = StreamId(kSid),
                                                                       .has_pasid = f.pasid,
                                                                       .pasid = Pasid(kSsid),
                                                                       .addr = va,
                                                                       .write = f.write,
                                                                       .exec = f.exec,
                                                                       .priv = f.priv});
    m_->Run();
    return c;
  }
  // The granted rights of a Success completion to `f` for `va`, as "RWXp":
  // R, W, X or '-', then 'p' (Priv) or 'u'; "fault" for any other code.
  std::string Rights(VirtAddr va, Treq f = {}) {
    const size_t before = Events();
    const pci::AtsCompletion c = Ats(va, f);
    EXPECT_EQ(Events(), before) << "3.9.1: a Translation Request records no event";
    if (c.code != Code::kSuccess && c.code != Code::kNotPresent) return "fault";
    std::string s = {c.read ? 'R' : '-', c.write ? 'W' : '-', c.exec ? 'X' : '-',
                     c.priv ? 'p' : 'u'};
    return s;
  }
  // One ATS request for va_ that must record no event: its completion code.
  Code AtsCodeWithoutEvent() {
    const size_t before = Events();
    const Code code = Ats(va_).code;
    EXPECT_EQ(Events(), before) << "no event";
    return code;
  }
};

// --- Completion codes (3.9.1.2) ----------------------------------------------

TEST_F(SmmuAtsCompletions, InvalidSteIsCompleterAbortWithoutEvent) {
  BuildWithAts();
  ASSERT_EQ(Ats(va_).code, Code::kSuccess);
  SetSte(Ste::kV, 0);
  EXPECT_EQ(AtsCodeWithoutEvent(), Code::kCompleterAbort);  // 5.2 STE.V
}

TEST_F(SmmuAtsCompletions, IllegalCdIsCompleterAbortWithoutEvent) {
  BuildWithAts();
  SetCd(Cd::kA, 0);  // ILLEGAL with TERM_MODEL == 1
  EXPECT_EQ(AtsCodeWithoutEvent(), Code::kCompleterAbort);
}

TEST_F(SmmuAtsCompletions, AbortSteIsUnsupportedWithoutEvent) {
  BuildWithAts();
  SetSte(Ste::kConfig, Ste::kConfigAbort);
  EXPECT_EQ(AtsCodeWithoutEvent(), Code::kUnsupported);
}

TEST_F(SmmuAtsCompletions, SmmuDisabledIsUnsupportedAndBadAtsTreq) {
  BuildWithAts();
  const size_t before = Events();
  m_->smmu.MmioWrite(kCr0, 1u << cr0::kEvtqen.lo, 4);  // SMMUEN = 0, EVTQ on
  EXPECT_EQ(Ats(va_).code, Code::kUnsupported);
  ASSERT_GT(Events(), before);
  EXPECT_EQ(LastEvent().type, EventType::kFBadAtsTreq);
}

TEST_F(SmmuAtsCompletions, PermissionFaultGrantsTheRightsThePageHas) {
  BuildWithAts();
  const VirtAddr ro = *mm_->Mmap(kPageSize4K, kernel::kProtRead, true);
  const pci::AtsCompletion c = Ats(ro, {.write = true});
  EXPECT_EQ(c.code, Code::kSuccess);
  EXPECT_EQ(c.pa, mm_->Lookup(ro)->pa);
  EXPECT_EQ(Rights(ro, {.write = true}), "R--u");
  // A translation fault: Success with R = W = 0.
  EXPECT_EQ(Ats(ro + 64 * kPageSize4K).code, Code::kNotPresent);
  EXPECT_EQ(Rights(ro + 64 * kPageSize4K), "---u");
}

// --- Granted rights (13.7, 13.7.1) -------------------------------------------

// The AArch64 rows of 13.7's table of example requests. va_ is User-RW,
// Priv-RW, UXN = PXN = 1.
TEST_F(SmmuAtsCompletions, RightsFollowTheExampleTable) {
  BuildWithAts();
  EXPECT_EQ(Rights(va_, {.write = true}), "RW-u");
  EXPECT_EQ(Rights(va_), "R--u") << "NW = 1: W permitted, not required";
  EXPECT_EQ(Rights(va_, {.exec = true}), "R--u") << "XN: no Exe";
  EXPECT_EQ(Rights(va_, {.write = true, .priv = true}), "RW-p") << "Priv as requested";
  SetDescriptorBit(3, kUxn, false);
  EXPECT_EQ(Rights(va_, {.write = true, .exec = true}), "RWXu");
  EXPECT_EQ(Rights(va_, {.write = true}), "RW-u") << "Exe only where requested";
  // User-X, Priv-RW (execute-only at EL0): no access through ATS.
  SetDescriptorBit(3, kApUser, false);
  EXPECT_EQ(Rights(va_, {.write = true, .exec = true}), "---u");
}

TEST_F(SmmuAtsCompletions, PanGrantsAPrivilegedRequestNoDataAccessToUserPages) {
  BuildWithAts();
  SetCd(Cd::kPAN, 1);
  EXPECT_EQ(Rights(va_, {.write = true, .priv = true}), "---p");
  EXPECT_EQ(Rights(va_, {.write = true}), "RW-u");
}

TEST_F(SmmuAtsCompletions, WxnGrantsNoExeOnPagesWritableAtTheLevel) {
  BuildWithAts();
  const VirtAddr rwx =
      *mm_->Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite | kernel::kProtExec, true);
  const VirtAddr rx = *mm_->Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtExec, true);
  EXPECT_EQ(Rights(rwx, {.exec = true}), "R-Xu");
  SetCd(Cd::kWXN, 1);
  EXPECT_EQ(Rights(rwx, {.exec = true}), "R--u") << "writable, though W was not asked";
  EXPECT_EQ(Rights(rwx, {.write = true, .exec = true}), "RW-u");
  EXPECT_EQ(Rights(rx, {.exec = true}), "R-Xu");
}

TEST_F(SmmuAtsCompletions, TbiAppliesToTheRequestedAddress) {
  BuildWithAts();
  SetCd(Cd::kTBI, 0b01);
  const VirtAddr tagged(va_.value() | kTag);
  const pci::AtsCompletion c = Ats(tagged, {.write = true});
  EXPECT_EQ(c.code, Code::kSuccess);
  EXPECT_EQ(c.pa, mm_->Lookup(va_)->pa);
  EXPECT_EQ(Rights(tagged, {.write = true}), "RW-u");
}

// 13.7.1: PRIVCFG sets the level the rights are taken at; the completion's
// Priv is the request's.
TEST_F(SmmuAtsCompletions, PrivcfgChangesTheRightsButNotTheCompletionsPriv) {
  BuildWithAts();
  SetCd(Cd::kPAN, 1);
  SetSte(Ste::kPRIVCFG, Ste::kPrivPrivileged);
  EXPECT_EQ(Rights(va_, {.write = true}), "---u") << "taken as privileged: PAN";
  SetSte(Ste::kPRIVCFG, Ste::kPrivUnprivileged);
  EXPECT_EQ(Rights(va_, {.write = true, .priv = true}), "RW-p");
}

// 13.7.1 INSTCFG: Instruction makes R and Exe both "executable"; Data makes
// Exe "readable".
TEST_F(SmmuAtsCompletions, InstcfgDecidesWhatReadAndExeMean) {
  BuildWithAts();
  SetSte(Ste::kINSTCFG, Ste::kInstInstruction);
  EXPECT_EQ(Rights(va_, {.exec = true}), "---u") << "UXN: neither R nor Exe";
  EXPECT_EQ(Rights(va_, {.write = true}), "-W-u") << "W by the write permission alone";
  SetDescriptorBit(3, kUxn, false);
  SetDescriptorBit(3, kApUser, false);  // execute-only at EL0
  EXPECT_EQ(Rights(va_, {.exec = true}), "R-Xu");
  EXPECT_EQ(Rights(va_), "R--u") << "no Exe where not requested";
  SetSte(Ste::kINSTCFG, Ste::kInstData);
  EXPECT_EQ(Rights(va_, {.exec = true}), "---u") << "not readable at EL0";
  SetDescriptorBit(3, kApUser, true);
  SetDescriptorBit(3, kUxn, true);
  EXPECT_EQ(Rights(va_, {.exec = true}), "R-Xu") << "Data: X as R, XN or not";
}

// 13.7: a request without a PASID is Data and Unprivileged, and its
// completion's Exe and Priv are reserved (0).
TEST_F(SmmuAtsCompletions, RequestWithoutPasidIsDataAndUnprivileged) {
  BuildWithAts();
  SetSte(Ste::kS1DSS, Ste::kS1DSSBypass);
  const pci::AtsCompletion c = Ats(va_, {.exec = true, .priv = true, .pasid = false});
  EXPECT_EQ(c.code, Code::kSuccess);
  EXPECT_EQ(c.pa.value(), va_.value()) << "S1DSS bypass: identity";
  EXPECT_EQ(Rights(va_, {.exec = true, .priv = true, .pasid = false}), "RW-u");
  // Through stage 1 (S1DSS: substream 0), the rights are taken at EL0.
  ASSERT_TRUE(m_->driver->WriteSvaCd(StreamId(kSid), 0, mm_->pgd(), Asid(10)).ok());
  SetSte(Ste::kS1DSS, Ste::kS1DSSSsid0);
  Cd cd0 = *m_->driver->ReadCd(StreamId(kSid), 0);
  cd0.Set(Cd::kPAN, 1);
  const PhysAddr pa = *m_->driver->CdAddressOf(StreamId(kSid), 0);
  for (int i = 0; i < 8; ++i) m_->mem.Write64(pa + 8ull * i, cd0.dw[i], mem::Access::Cpu());
  ASSERT_TRUE(m_->driver->Submit({MakeCfgiCd(StreamId(kSid), 0, true)}).ok());
  EXPECT_EQ(Rights(va_, {.write = true, .priv = true, .pasid = false}), "RW-u")
      << "unprivileged: PAN does not apply";
  // A normal transaction without a PASID is unprivileged too.
  const pci::DmaResult d = m_->smmu.Translate(
      pci::DmaRequest{.rid = StreamId(kSid), .addr = va_, .priv = true}, nullptr);
  m_->Run();
  EXPECT_EQ(d.status, pci::DmaStatus::kTranslated);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
