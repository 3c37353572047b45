// Seed bug 3 at the driver level: detaching an SSID while a stall event is
// in the event queue. Without the drain the threaded handler uses the freed
// master_domain (a report, never freed C++ memory); with it, none. Either
// way the stalled transaction is answered exactly once.
#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"

namespace svaemu::hw::smmuv3 {
namespace {

using kernel::DetachDrain;

constexpr uint32_t kSid = 0x50;
constexpr uint32_t kSsid = 3;

struct DrainCase {
  DetachDrain drain;
  int expected_uaf;
};

class SmmuDetachDrain : public ::testing::TestWithParam<DrainCase> {};

TEST_P(SmmuDetachDrain, StallInQueueAtDetach) {
  SmmuMachine m({}, {.detach_drain = GetParam().drain});
  kernel::Mm& mm = m.NewMm();
  auto va = mm.Mmap(kPageSize4K, kernel::kProtRead, /*populate=*/false);
  ASSERT_TRUE(va.ok());
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), kSsid, mm.pgd(), Asid(2)).ok());
  ASSERT_TRUE(m.driver->AttachSsid(StreamId(kSid), kSsid, 1).ok());
  IopfDouble iopf(*m.driver, &mm);
  iopf.deferred = true;  // the IOPF workqueue answers later
  m.driver->set_iopf_sink(&iopf);
  m.driver->set_iopf_flush([&](const kernel::FaultSource&) { iopf.Flush(); });

  int completions = 0;
  m.smmu.Translate(pci::DmaRequest{.rid = StreamId(kSid), .has_pasid = true,
                                   .pasid = Pasid(kSsid), .addr = *va},
                   [&](const pci::DmaResult&) { ++completions; });
  // The hard handler reads the stall and resolves its master_domain; then
  // the SSID is detached before the threaded handler runs.
  while (m.smmu.evtq_irq().hard_runs() == 0) ASSERT_TRUE(m.sim.events().Step());
  ASSERT_TRUE(m.driver->DetachSsid(StreamId(kSid), kSsid).ok());
  m.Run();
  iopf.Flush();
  m.Run();

  EXPECT_EQ(m.sim.violations().Count(check::ViolationKind::kKernelObjectUseAfterFree),
            GetParam().expected_uaf);
  EXPECT_EQ(completions, 1);  // answered exactly once either way
  EXPECT_EQ(m.smmu.stalled(), 0u);
  EXPECT_EQ(m.sim.violations().Count(check::ViolationKind::kFaultAnsweredTwice), 0);
}

// kNone: the threaded handler uses the freed master_domain once (then
// terminates the stall). kDrain: the thread and the IOPF flush run before
// the free.
INSTANTIATE_TEST_SUITE_P(Policies, SmmuDetachDrain,
                         ::testing::Values(DrainCase{DetachDrain::kNone, 1},
                                           DrainCase{DetachDrain::kDrain, 0}));

}  // namespace
}  // namespace svaemu::hw::smmuv3
