#include "svaemu/scenario/dma_checker.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "iommu/fake_iommu_testutil.h"

namespace svaemu::scenario {
namespace {

using check::ViolationKind;
using kernel::kProtRead;
using kernel::kProtWrite;

// An IOMMU port that translates through whichever mm the test points it at,
// as a PASID entry that was rewritten would.
class MmPort : public hw::pci::IommuPort {
 public:
  hw::pci::DmaResult Translate(const hw::pci::DmaRequest& req,
                               hw::pci::DmaCompletion) override {
    std::optional<arch::Translation> t = target->Lookup(req.addr);
    if (!t) return {hw::pci::DmaStatus::kAborted};
    return {hw::pci::DmaStatus::kTranslated, t->pa, t->perms.write};
  }
  hw::pci::AtsCompletion AtsTranslate(const hw::pci::DmaRequest&) override { return {}; }
  void SendPageRequest(const hw::pci::PageRequest&) override {}
  kernel::Mm* target = nullptr;
};

struct CheckerFixture : ::testing::Test {
  CheckerFixture()
      : dev(m.NewDevice("dev0", 0x10)),
        a(m.NewMm()),
        b(m.NewMm()),
        ep(m.sim, m.mem, {.rid = StreamId(0x10), .index = 3}),
        checker(m.sim, m.mem, *m.sva) {
    ep.Connect(&port);
    checker.Watch(ep);
  }
  kernel::SvaMachine m;
  kernel::Device& dev;
  kernel::Mm& a;
  kernel::Mm& b;
  MmPort port;
  hw::pci::Endpoint ep;
  DmaChecker checker;
  const std::vector<uint8_t> data{1, 2, 3};
};

TEST_F(CheckerFixture, DmaIntoTheExpectedMmIsClean) {
  kernel::AttachHandle* h = *m.sva->Bind(dev, a);
  VirtAddr va = *a.Mmap(kPageSize4K, kProtRead | kProtWrite, true);
  checker.Expect(ep, h->pasid(), &a);
  port.target = &a;
  ep.Write(h->pasid(), va, data);
  EXPECT_EQ(m.sim.violations().total(), 0);
  EXPECT_EQ(checker.checked_accesses(), 1u);
}

TEST_F(CheckerFixture, DmaIntoAnotherMmIsCrossMm) {
  kernel::AttachHandle* h = *m.sva->Bind(dev, a);
  ASSERT_TRUE(m.sva->Bind(dev, b).ok());
  VirtAddr vb = *b.Mmap(kPageSize4K, kProtRead | kProtWrite, true);
  checker.Expect(ep, h->pasid(), &a);
  port.target = &b;  // the PASID entry now names b's tables
  uint64_t id = ep.Write(h->pasid(), vb, data);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kCrossMmDma), 1);
  EXPECT_EQ(m.sim.violations().total(), 1);
  auto v = m.sim.violations().violations()[0];
  EXPECT_EQ(v.agent, Agent::Device(3));
  EXPECT_EQ(*v.frame, ep.record(id).pa.AlignDown(kPageSize4K));
}

TEST_F(CheckerFixture, DmaOnAFreedPasidIsPasidUseAfterFree) {
  kernel::AttachHandle* h = *m.sva->Bind(dev, a);
  checker.Expect(ep, h->pasid(), &a);
  port.target = &a;
  ASSERT_TRUE(m.sva->Unbind(h).ok());
  ASSERT_TRUE(a.Put().ok());  // PASID freed at mmdrop
  ep.Write(h->pasid(), VirtAddr(0x10000000), data);  // the device did not stop
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kPasidUseAfterFree), 1);
}

TEST_F(CheckerFixture, DmaIntoAPageTableFrameIsOutsideTheDomain) {
  kernel::AttachHandle* h = *m.sva->Bind(dev, a);
  checker.Expect(ep, h->pasid(), &a);
  // A port that hands out a's pgd frame as the target.
  struct PgdPort : hw::pci::IommuPort {
    hw::pci::DmaResult Translate(const hw::pci::DmaRequest&, hw::pci::DmaCompletion) override {
      return {hw::pci::DmaStatus::kTranslated, pgd, true};
    }
    hw::pci::AtsCompletion AtsTranslate(const hw::pci::DmaRequest&) override { return {}; }
    void SendPageRequest(const hw::pci::PageRequest&) override {}
    PhysAddr pgd;
  } pgd_port;
  pgd_port.pgd = a.pgd();
  ep.Connect(&pgd_port);
  ep.Write(h->pasid(), VirtAddr(0x10000000), data);
  EXPECT_EQ(m.sim.violations().Count(ViolationKind::kDmaOutsideDomain), 1);
}

TEST_F(CheckerFixture, UnwatchedPasidsAreNotChecked) {
  port.target = &b;
  VirtAddr vb = *b.Mmap(kPageSize4K, kProtRead | kProtWrite, true);
  ep.Write(Pasid(9), vb, data);
  EXPECT_EQ(m.sim.violations().total(), 0);
  EXPECT_EQ(checker.checked_issues(), 0u);
}

}  // namespace
}  // namespace svaemu::scenario
