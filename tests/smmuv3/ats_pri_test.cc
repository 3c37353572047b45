// ATS and PRI end to end on SMMUv3 (3.9 ATS, 3.10 PRI, 8 PRI queue): a
// hw::pci::Endpoint with a device TLB and PRI behind the model, a driver
// that enabled them in the STE, and the IOPF double answering page
// requests through CMD_PRI_RESP.
#include <array>
#include <vector>

#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"
#include "svaemu/hw/pci/endpoint.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint32_t kSid = 0x10;
constexpr uint32_t kSsid = 5;

struct AtsPriMachine : SmmuMachine {
  AtsPriMachine()
      : ep(sim, mem, pci::EndpointConfig{.rid = StreamId(kSid), .index = 1,
                                         .ats = true, .pri = true}) {
    ep.Connect(&smmu);
    EXPECT_TRUE(smmu.AttachEndpoint(&ep).ok());
    EXPECT_TRUE(driver->AttachMaster({.sid = StreamId(kSid), .ats = true, .pri = true}).ok());
  }
  // An SVA CD for `mm` at kSsid, and the master_domain link the PRIQ
  // thread looks a page request up by.
  void BindSsid(kernel::Mm& mm) {
    ASSERT_TRUE(driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(7)).ok());
    ASSERT_TRUE(driver->AttachSsid(StreamId(kSid), kSsid, /*domain=*/1).ok());
  }
  pci::Endpoint ep;
};

TEST(SmmuAtsPri, AtsFillsTheDeviceTlbAndAtcInvalidationDropsIt) {
  AtsPriMachine m;
  kernel::Mm& mm = m.NewMm();
  const VirtAddr va = m.Populated(mm, 2);
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(7)).ok());
  std::array<uint8_t, 8> data{1, 2, 3, 4, 5, 6, 7, 8};
  const uint64_t first = m.ep.Write(Pasid(kSsid), va, data);
  m.Run();
  ASSERT_EQ(m.ep.record(first).outcome, pci::DmaOutcome::kDone);
  EXPECT_EQ(m.ep.record(first).pa, mm.Lookup(va)->pa);
  EXPECT_EQ(m.ep.atc_size(), 1u) << "the translation came back through ATS";
  const uint64_t second = m.ep.Write(Pasid(kSsid), va + 8, data);
  m.Run();
  EXPECT_TRUE(m.ep.record(second).via_atc) << "a hit in the device TLB skips the SMMU";
  // CMD_ATC_INV for the SSID and page, then SYNC (which waits for the
  // device's completion, 3.9.1.2): the entry is gone.
  ASSERT_TRUE(m.driver->AtcInvalidate(StreamId(kSid), kSsid, va, kPageSize4K).ok());
  EXPECT_EQ(m.ep.atc_size(), 0u);
  EXPECT_GE(m.ep.atc_invalidations(), 1u);
  const uint64_t third = m.ep.Write(Pasid(kSsid), va + 16, data);
  m.Run();
  EXPECT_FALSE(m.ep.record(third).via_atc);
  EXPECT_EQ(m.ep.record(third).outcome, pci::DmaOutcome::kDone);
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(SmmuAtsPri, NotPresentPageIsRequestedResolvedAndRetriedOnce) {
  AtsPriMachine m;
  kernel::Mm& mm = m.NewMm();
  // Mapped but not populated: the ATS answer is "not present" and the
  // device sends a page request (PCIe 10.4).
  const VirtAddr va = *mm.Mmap(kPageSize4K, kernel::kProtRead | kernel::kProtWrite, false);
  m.BindSsid(mm);
  IopfDouble iopf(*m.driver, &mm);
  m.driver->set_iopf_sink(&iopf);
  std::array<uint8_t, 4> data{9, 9, 9, 9};
  const uint64_t id = m.ep.Write(Pasid(kSsid), va + 0x40, data);
  m.Run();
  EXPECT_EQ(m.ep.page_requests_sent(), 1u);
  ASSERT_EQ(iopf.reported.size(), 1u) << "PRIQ entry -> driver -> IOPF core";
  EXPECT_EQ(iopf.reported[0].addr.value(), va.value());
  EXPECT_NE(iopf.reported[0].flags & kernel::kIopfLastPage, 0u);
  ASSERT_EQ(m.ep.record(id).outcome, pci::DmaOutcome::kDone)
      << "CMD_PRI_RESP success -> retried translation";
  EXPECT_TRUE(m.ep.record(id).page_requested);
  ASSERT_TRUE(mm.Lookup(va).has_value());
  EXPECT_EQ(m.ep.record(id).pa, mm.Lookup(va)->pa + 0x40);
  std::array<uint8_t, 4> back{};
  ASSERT_TRUE(m.mem.ReadBytes(mm.Lookup(va)->pa + 0x40, back, {}));
  EXPECT_EQ(back, data);
  EXPECT_EQ(m.ep.pending(), 0u) << "every page request answered";
  EXPECT_EQ(m.sim.violations().total(), 0);
}

TEST(SmmuAtsPri, UnresolvablePageRequestAbortsTheDma) {
  AtsPriMachine m;
  kernel::Mm& mm = m.NewMm();
  m.BindSsid(mm);
  IopfDouble iopf(*m.driver, &mm);
  m.driver->set_iopf_sink(&iopf);
  std::array<uint8_t, 4> out{};
  // No VMA there: the fault handler fails, the response is Invalid.
  const uint64_t id = m.ep.Read(Pasid(kSsid), VirtAddr(0x7000'0000), out);
  m.Run();
  EXPECT_EQ(iopf.reported.size(), 1u);
  EXPECT_EQ(m.ep.record(id).outcome, pci::DmaOutcome::kAborted);
  EXPECT_EQ(m.ep.pending(), 0u);
  // CMD_PRI_RESP Resp 0b01 (4.5.2): the endpoint sees InvalidRequest.
  EXPECT_EQ(m.ep.page_response_codes(),
            std::vector<pci::PageResponse::Code>{pci::PageResponse::Code::kInvalidRequest});
  EXPECT_EQ(m.sim.violations().total(), 0);
}

// With no IOPF handler the driver answers as arm_smmu_handle_ppr() does,
// PRI_RESP_DENY, encoded 0b00: ResponseFailure on the wire (4.5.2).
TEST(SmmuAtsPri, PageRequestNobodyHandlesIsAnsweredResponseFailure) {
  AtsPriMachine m;
  kernel::Mm& mm = m.NewMm();
  m.BindSsid(mm);
  std::array<uint8_t, 4> out{};
  const uint64_t id = m.ep.Read(Pasid(kSsid), VirtAddr(0x7000'0000), out);
  m.Run();
  EXPECT_EQ(m.ep.page_requests_sent(), 1u);
  EXPECT_EQ(m.ep.record(id).outcome, pci::DmaOutcome::kAborted);
  EXPECT_EQ(m.ep.page_response_codes(),
            std::vector<pci::PageResponse::Code>{pci::PageResponse::Code::kResponseFailure});
  EXPECT_EQ(m.sim.violations().total(), 0);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
