#include "svaemu/hw/pci/endpoint.h"

#include <deque>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/mem/phys_mem.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::pci {
namespace {

// A scripted IOMMU: identity-plus-offset translation for mapped pages.
class FakeIommu : public IommuPort {
 public:
  DmaResult Translate(const DmaRequest& req, DmaCompletion done) override {
    ++translations;
    if (stall) {
      stalled.push_back({req, std::move(done)});
      return {DmaStatus::kStalled};
    }
    return Answer(req);
  }
  AtsCompletion AtsTranslate(const DmaRequest& req) override {
    ++ats_requests;
    AtsCompletion c;
    if (!mapped) {
      c.code = AtsCompletion::Code::kNotPresent;
      return c;
    }
    c.code = AtsCompletion::Code::kSuccess;
    c.pa = PhysAddr(req.addr.AlignDown(4096).value() + kOffset);
    c.read = true;
    c.write = writable;
    return c;
  }
  void SendPageRequest(const PageRequest& pr) override { requests.push_back(pr); }

  DmaResult Answer(const DmaRequest& req) {
    if (!mapped) return {DmaStatus::kAborted};
    return {DmaStatus::kTranslated, PhysAddr(req.addr.value() + kOffset), writable};
  }

  static constexpr uint64_t kOffset = 0x100000;
  bool mapped = true;
  bool writable = true;
  bool stall = false;
  int translations = 0;
  int ats_requests = 0;
  std::vector<std::pair<DmaRequest, DmaCompletion>> stalled;
  std::vector<PageRequest> requests;
};

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() : mem_(sim_) {}
  Endpoint& Make(EndpointConfig cfg) {
    ep_ = std::make_unique<Endpoint>(sim_, mem_, cfg);
    ep_->Connect(&iommu_);
    return *ep_;
  }
  sim::Simulation sim_;
  mem::PhysMem mem_;
  FakeIommu iommu_;
  std::unique_ptr<Endpoint> ep_;
};

TEST_F(EndpointTest, UntranslatedWriteReachesTranslatedAddress) {
  Endpoint& ep = Make({.rid = StreamId(0x10), .index = 2});
  std::vector<DmaAccess> seen;
  ep.set_access_observer([&](const DmaAccess& a) { seen.push_back(a); });
  const std::vector<uint8_t> data = {1, 2, 3, 4};
  uint64_t id = ep.Write(Pasid(5), VirtAddr(0x4000), data);
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kDone);
  EXPECT_EQ(mem_.Read32(PhysAddr(0x104000), mem::Access::Cpu()), 0x04030201u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].device, 2);
  EXPECT_EQ(seen[0].pasid, Pasid(5));
  EXPECT_EQ(seen[0].pa, PhysAddr(0x104000));
}

TEST_F(EndpointTest, AbortedAndReadOnlyWritesDoNotTouchMemory) {
  Endpoint& ep = Make({.rid = StreamId(1)});
  iommu_.writable = false;
  uint64_t id = ep.Write(std::nullopt, VirtAddr(0x4000), std::vector<uint8_t>{9});
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kAborted);
  iommu_.mapped = false;
  id = ep.Write(std::nullopt, VirtAddr(0x4000), std::vector<uint8_t>{9});
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(mem_.resident_frames(), 0u);
}

TEST_F(EndpointTest, StalledDmaCompletesWhenTheIommuCallsBack) {
  Endpoint& ep = Make({.rid = StreamId(1)});
  iommu_.stall = true;
  std::vector<uint8_t> buf(4);
  mem_.Write32(PhysAddr(0x108000), 0xcafef00d, mem::Access::Cpu());
  uint64_t id = ep.Read(Pasid(1), VirtAddr(0x8000), buf);
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kPending);
  EXPECT_EQ(ep.pending(), 1u);
  ASSERT_EQ(iommu_.stalled.size(), 1u);
  iommu_.stalled[0].second(iommu_.Answer(iommu_.stalled[0].first));
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kDone);
  EXPECT_EQ(buf[0], 0x0d);
  EXPECT_EQ(ep.pending(), 0u);
}

TEST_F(EndpointTest, DmaCrossingAPageIsAbortedNotSplit) {
  Endpoint& ep = Make({.rid = StreamId(1)});
  std::vector<uint8_t> data(16, 1);
  uint64_t id = ep.Write(std::nullopt, VirtAddr(0x4ff8), data);
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(iommu_.translations, 0);
}

TEST_F(EndpointTest, AtsFillsTheDeviceTlbAndHitsSkipTheIommu) {
  Endpoint& ep = Make({.rid = StreamId(1), .ats = true});
  std::vector<uint8_t> buf(8);
  uint64_t a = ep.Read(Pasid(3), VirtAddr(0x2000), buf);
  uint64_t b = ep.Read(Pasid(3), VirtAddr(0x2008), buf);
  EXPECT_EQ(iommu_.ats_requests, 1);
  EXPECT_FALSE(ep.record(a).via_atc);
  EXPECT_TRUE(ep.record(b).via_atc);
  EXPECT_EQ(ep.record(b).pa, PhysAddr(0x102008));
  // Another PASID does not hit.
  ep.Read(Pasid(4), VirtAddr(0x2000), buf);
  EXPECT_EQ(iommu_.ats_requests, 2);
}

TEST_F(EndpointTest, AtcInvalidationDropsOverlappingEntriesOfThatPasid) {
  Endpoint& ep = Make({.rid = StreamId(1), .ats = true});
  std::vector<uint8_t> buf(8);
  ep.Read(Pasid(3), VirtAddr(0x2000), buf);
  ep.Read(Pasid(3), VirtAddr(0x5000), buf);
  ep.Read(Pasid(4), VirtAddr(0x2000), buf);
  ASSERT_EQ(ep.atc_size(), 3u);
  EXPECT_TRUE(ep.ReceiveAtcInvalidation(
      {.rid = StreamId(1), .has_pasid = true, .pasid = Pasid(3),
       .addr = VirtAddr(0x2000), .size = 0x1000}));
  EXPECT_EQ(ep.atc_size(), 2u);
  ep.set_answers_atc_invalidation(false);
  EXPECT_FALSE(ep.ReceiveAtcInvalidation({.rid = StreamId(1)}));
  EXPECT_EQ(ep.atc_size(), 2u);
}

TEST_F(EndpointTest, NotPresentSendsOnePageRequestAndSuccessRetries) {
  Endpoint& ep = Make({.rid = StreamId(7), .ats = true, .pri = true});
  iommu_.mapped = false;
  const std::vector<uint8_t> data = {0xaa};
  uint64_t id = ep.Write(Pasid(9), VirtAddr(0x3123), data);
  ASSERT_EQ(iommu_.requests.size(), 1u);
  const PageRequest pr = iommu_.requests[0];
  EXPECT_EQ(pr.addr, VirtAddr(0x3000));
  EXPECT_TRUE(pr.write);
  EXPECT_TRUE(pr.last);
  EXPECT_EQ(pr.pasid, Pasid(9));
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kPending);
  iommu_.mapped = true;  // the fault handler mapped the page
  ep.ReceivePageResponse({.rid = StreamId(7), .has_pasid = true, .pasid = Pasid(9),
                          .prgi = pr.prgi, .code = PageResponse::Code::kSuccess});
  EXPECT_EQ(ep.record(id).outcome, DmaOutcome::kDone);
  EXPECT_EQ(mem_.Read32(PhysAddr(0x103123), mem::Access::Cpu()) & 0xff, 0xaau);
}

TEST_F(EndpointTest, FailedPageResponseOrSecondNotPresentAborts) {
  Endpoint& ep = Make({.rid = StreamId(7), .ats = true, .pri = true});
  iommu_.mapped = false;
  uint64_t a = ep.Write(Pasid(9), VirtAddr(0x3000), std::vector<uint8_t>{1});
  ep.ReceivePageResponse({.prgi = iommu_.requests[0].prgi,
                          .code = PageResponse::Code::kInvalidRequest});
  EXPECT_EQ(ep.record(a).outcome, DmaOutcome::kAborted);
  uint64_t b = ep.Write(Pasid(9), VirtAddr(0x3000), std::vector<uint8_t>{1});
  // "Success" but still not present: the retry does not page-request again.
  ep.ReceivePageResponse({.prgi = iommu_.requests[1].prgi,
                          .code = PageResponse::Code::kSuccess});
  EXPECT_EQ(ep.record(b).outcome, DmaOutcome::kAborted);
  EXPECT_EQ(ep.page_requests_sent(), 2u);
}

}  // namespace
}  // namespace svaemu::hw::pci
