// The invalidation queue at register level (ordering, IQE, ITE) and the
// page request queue (overflow), with a test double endpoint.
#include <vector>

#include "gtest/gtest.h"
#include "vtd/vtd_testutil.h"

namespace svaemu::hw::vtd {
namespace {

class FakeEndpoint : public pci::EndpointPort {
 public:
  explicit FakeEndpoint(uint16_t rid) : rid_(rid) {}
  StreamId rid() const override { return StreamId(rid_); }
  void ReceivePageResponse(const pci::PageResponse& r) override { responses.push_back(r); }
  bool ReceiveAtcInvalidation(const pci::AtcInvalidation& inv) override {
    atc.push_back(inv);
    return answers;
  }
  uint16_t rid_;
  bool answers = true;
  std::vector<pci::PageResponse> responses;
  std::vector<pci::AtcInvalidation> atc;
};

// A unit with QI enabled by hand (no driver): IQ at 1 MiB, status at 2 MiB.
struct RawUnit {
  RawUnit() : mem(sim) {
    auto v = Vtd::Create(sim, mem);
    EXPECT_TRUE(v.ok());
    vtd = *std::move(v);
    vtd->Write64(kIqaReg, kIq.value() | (1ull << Iqa::kDw));
    vtd->Write32(kGcmdReg, 1u << Gcmd::kQie);
  }
  void Put(int slot, const RawDesc& d) {
    for (int i = 0; i < 4; ++i) mem.Write64(kIq + 32 * slot + 8 * i, d[i], mem::Access::Cpu());
  }
  uint32_t Status() { return mem.Read32(kStatus, mem::Access::Cpu()); }
  static constexpr PhysAddr kIq{1 << 20};
  static constexpr PhysAddr kStatus{2 << 20};
  sim::Simulation sim;
  mem::PhysMem mem;
  std::unique_ptr<Vtd> vtd;
};

TEST(VtdInvalidationQueue, WaitCompletesOnlyAfterEveryDescriptorAheadOfIt) {
  RawUnit u;
  u.Put(0, PasidCacheDesc{.g = 3}.Encode());
  u.Put(1, IotlbDesc{.g = 1}.Encode());
  u.Put(2,
        WaitDesc{.sw = true, .status_data = 1, .status_addr = RawUnit::kStatus.value()}.Encode());
  u.vtd->Write64(kIqtReg, 3 * 32);
  const sim::CostModel& c = u.sim.cost();
  std::vector<std::pair<uint64_t, uint64_t>> head_at;  // (time, IQH) per step
  while (u.sim.events().Step()) {
    head_at.emplace_back(u.sim.now(), u.vtd->Read64(kIqhReg));
    if (u.Status() == 1) break;
  }
  ASSERT_EQ(u.Status(), 1u);
  // When the status was written, both descriptors ahead had been executed
  // (IQH passed them) and their cost had elapsed.
  EXPECT_GE(head_at.back().second, 2u * 32);
  EXPECT_GE(u.sim.now(), 3 * c.command + c.invalidation_wait);
  for (auto& [t, h] : head_at) {
    if (h < 2 * 32) {
      EXPECT_LT(t, u.sim.now());
    }
  }
  u.sim.RunUntilIdle(10);
  EXPECT_EQ(u.vtd->Read64(kIqhReg), 3u * 32);
}

TEST(VtdInvalidationQueue, InvalidDescriptorRaisesIqeAndStopsAtIt) {
  RawUnit u;
  u.Put(0, {0xf, 0, 0, 0});  // type 0xf: invalid
  u.Put(1,
        WaitDesc{.sw = true, .status_data = 1, .status_addr = RawUnit::kStatus.value()}.Encode());
  u.vtd->Write64(kIqtReg, 2 * 32);
  u.sim.RunUntilIdle(100);
  EXPECT_TRUE(Bit(u.vtd->Read32(kFstsReg), Fsts::kIqe));
  EXPECT_EQ(u.vtd->Read64(kIqhReg), 0u) << "IQH points at the bad descriptor";
  EXPECT_EQ(Bits(u.vtd->Read64(kIqercdReg), Iqercd::kIqeiHi, Iqercd::kIqeiLo),
            Iqercd::kInvalidType);
  EXPECT_EQ(u.Status(), 0u) << "the wait behind it never ran";
  // Software replaces the descriptor and clears IQE: processing resumes.
  u.Put(0, IotlbDesc{.g = 1}.Encode());
  u.vtd->Write32(kFstsReg, 1u << Fsts::kIqe);
  u.sim.RunUntilIdle(100);
  EXPECT_EQ(u.Status(), 1u);
  EXPECT_FALSE(Bit(u.vtd->Read32(kFstsReg), Fsts::kIqe));
}

TEST(VtdInvalidationQueue, ReservedBitsAndMisalignedTailAreIqe) {
  RawUnit u;
  RawDesc bad = IotlbDesc{.g = 1}.Encode();
  bad[2] = 1;  // upper 128 bits are reserved
  u.Put(0, bad);
  u.vtd->Write64(kIqtReg, 32);
  u.sim.RunUntilIdle(100);
  EXPECT_EQ(Bits(u.vtd->Read64(kIqercdReg), Iqercd::kIqeiHi, Iqercd::kIqeiLo),
            Iqercd::kReservedField);
  RawUnit u2;
  u2.vtd->Write64(kIqtReg, 16);  // not 256-bit aligned with DW=1
  EXPECT_TRUE(Bit(u2.vtd->Read32(kFstsReg), Fsts::kIqe));
  EXPECT_EQ(Bits(u2.vtd->Read64(kIqercdReg), Iqercd::kIqeiHi, Iqercd::kIqeiLo),
            Iqercd::kTailMisaligned);
}

TEST(VtdInvalidationQueue, DeadDeviceGivesIteAndTheDriverDoesNotHang) {
  testing::VtdMachine m({.dev_tlb_timeout = 50'000});
  FakeEndpoint ep(testing::kSid);
  ep.answers = false;
  ASSERT_TRUE(m.vtd->AttachEndpoint(&ep).ok());
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm, {}, {.ats = true});
  const uint64_t t0 = m.sim.now();
  absl::Status s = m.drv->FlushPasidAll(DomainId(testing::kDid), Pasid(testing::kPasid));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_GE(m.sim.now() - t0, 50'000u) << "the unit waited for the time-out";
  EXPECT_EQ(Bits(m.vtd->Read64(kIqercdReg), Iqercd::kItesidHi, Iqercd::kItesidLo), testing::kSid);
  EXPECT_FALSE(Bit(m.vtd->Read32(kFstsReg), Fsts::kIte)) << "driver cleared ITE";
  ep.answers = true;
  EXPECT_TRUE(m.drv->FlushPasidAll(DomainId(testing::kDid), Pasid(testing::kPasid)).ok());
  ASSERT_EQ(ep.atc.size(), 2u);  // one unanswered, one answered
  EXPECT_TRUE(ep.atc[1].has_pasid);
  EXPECT_EQ(ep.atc[1].size, 0u) << "whole address space of the PASID";
}

// A PASID bound with PRI behind `ep`, whose page requests nobody drains
// (PECTL.IM set).
void BindUndrainedPri(testing::VtdMachine& m, FakeEndpoint& ep) {
  ASSERT_TRUE(m.vtd->AttachEndpoint(&ep).ok());
  m.Bind(m.NewMm(), {}, {.pri = true});
  m.vtd->Write32(kPectlReg, 1u << EventCtl::kIm);
}
// A read page request of that PASID.
pci::PageRequest ReadRequest(uint64_t addr, bool last = false, uint16_t prgi = 0) {
  return pci::PageRequest{.rid = StreamId(testing::kSid),
                          .has_pasid = true,
                          .pasid = Pasid(testing::kPasid),
                          .addr = VirtAddr(addr),
                          .read = true,
                          .last = last,
                          .prgi = prgi};
}

TEST(VtdPageRequestQueue, OverflowSetsProDropsAndAutoRespondsToLastInGroup) {
  testing::VtdMachine m;
  FakeEndpoint ep(testing::kSid);
  BindUndrainedPri(m, ep);
  // One 4 KiB queue holds 128 descriptors; one slot stays empty.
  for (uint16_t i = 0; i < 128; ++i) {
    m.vtd->SendPageRequest(ReadRequest(0x10000000 + 4096ull * i, /*last=*/true, i));
  }
  EXPECT_EQ(m.Stat("prq.requests"), 127u);
  EXPECT_EQ(m.Stat("prq.lost"), 1u);
  EXPECT_TRUE(Bit(m.vtd->Read32(kPrsReg), Prs::kPro));
  EXPECT_EQ(m.vtd->Read32(kPrsReg), 0b11u) << "PRO (bit 1) and PPR (bit 0)";
  ASSERT_EQ(ep.responses.size(), 1u) << "hardware answered the dropped last request";
  EXPECT_EQ(ep.responses[0].code, pci::PageResponse::Code::kSuccess);
  EXPECT_EQ(ep.responses[0].prgi, 127);
  m.vtd->SendPageRequest(ReadRequest(0x20000000));
  EXPECT_EQ(m.Stat("prq.lost"), 2u) << "PRO still set: dropped, not last: no response";
  EXPECT_EQ(ep.responses.size(), 1u);
}

// 11.4.11.4 PRS_REG: PPR is bit 0, PRO bit 1. 11.4.11.2 PQT_REG: PQT
// [18:5] is software-writable (the driver zeroes it when it sets the queue
// up); the other bits read 0.
TEST(VtdPageRequestQueue, PrsBitsAndPqtAreWhereTheSpecPutsThem) {
  testing::VtdMachine m;
  FakeEndpoint ep(testing::kSid);
  BindUndrainedPri(m, ep);
  m.vtd->SendPageRequest(ReadRequest(0x10000000, /*last=*/true));
  EXPECT_EQ(m.vtd->Read32(kPrsReg), 0b01u) << "PPR only";
  m.vtd->Write32(kPrsReg, 0b01u);  // RW1C
  EXPECT_EQ(m.vtd->Read32(kPrsReg), 0u);
  const uint64_t head = m.vtd->Read64(kPqhReg);
  m.vtd->Write64(kPqtReg, head | (1ull << 4) | (1ull << 19));
  EXPECT_EQ(m.vtd->Read64(kPqtReg), head) << "bits 4 and 19 are not PQT";
}

TEST(VtdPageRequestQueue, ContextWithoutPreRecordsFaultAndAnswersInvalid) {
  testing::VtdMachine m;
  FakeEndpoint ep(testing::kSid);
  ASSERT_TRUE(m.vtd->AttachEndpoint(&ep).ok());
  kernel::Mm& mm = m.NewMm();
  m.Bind(mm);  // no PRI
  m.vtd->SendPageRequest(pci::PageRequest{.rid = StreamId(testing::kSid),
                                          .has_pasid = true,
                                          .pasid = Pasid(testing::kPasid),
                                          .addr = VirtAddr(0x10000000),
                                          .read = true,
                                          .last = true});
  ASSERT_EQ(ep.responses.size(), 1u);
  EXPECT_EQ(ep.responses[0].code, pci::PageResponse::Code::kInvalidRequest);
  ASSERT_FALSE(m.vtd->fault_log().empty());
  EXPECT_EQ(m.vtd->fault_log().back().reason, FaultReason::kContextPreClear);
}

}  // namespace
}  // namespace svaemu::hw::vtd
