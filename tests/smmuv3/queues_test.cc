// Command queue (SYNC order, CERROR_ILL), event queue overflow and
// recovery, stalls resumed exactly once and terminated by STALL_TERM.
#include "gtest/gtest.h"
#include "smmuv3/smmu_testutil.h"

namespace svaemu::hw::smmuv3 {
namespace {

constexpr uint32_t kSid = 0x40;

TEST(SmmuCmdq, SyncsCompleteInQueueOrderWithMsiWrites) {
  SmmuMachine m;
  auto page = m.alloc.Allocate(mem::FrameUse::kData, "test", kNoSpace, true);
  ASSERT_TRUE(page.ok());
  std::vector<uint64_t> seen;  // time each MSI word became non-zero
  for (uint32_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(m.driver->Issue(MakeTlbiNhAll()).ok());
    ASSERT_TRUE(m.driver->Issue(MakeSync(SyncCs::kIrq, *page + 4 * i, i + 1)).ok());
  }
  std::vector<uint64_t> done(3, 0);
  while (m.sim.events().Step()) {
    for (uint32_t i = 0; i < 3; ++i) {
      if (done[i] == 0 && m.mem.Read32(*page + 4 * i, mem::Access::Cpu()) == i + 1)
        done[i] = m.sim.now();
    }
  }
  ASSERT_TRUE(done[0] && done[1] && done[2]);
  EXPECT_LT(done[0], done[1]);
  EXPECT_LT(done[1], done[2]);
  // Each SYNC waits for the TLBI before it: command + invalidation wait.
  EXPECT_GE(done[1] - done[0], m.sim.cost().command + m.sim.cost().invalidation_wait);
  // 4.7.3: the wired CMD_SYNC output is asserted as well, whatever
  // MSIAddress holds: once per SIG_IRQ SYNC.
  EXPECT_EQ(m.smmu.cmd_sync_irq().raised(), 3u);
}

TEST(SmmuRegisters, GbpaWriteWithoutUpdateIsIgnored) {
  SmmuMachine m;
  const uint64_t before = m.smmu.MmioRead(kGbpa, 4);
  m.smmu.MmioWrite(kGbpa, 1u << 20, 4);  // ABORT without Update
  EXPECT_EQ(m.smmu.MmioRead(kGbpa, 4), before);
  // With Update: every field of 6.3.14 latches (RES0 bits do not), and
  // Update reads 0 once done.
  m.smmu.MmioWrite(kGbpa, 0xffffffffu, 4);
  EXPECT_EQ(m.smmu.MmioRead(kGbpa, 4), 0x001f3f1fu);
}

TEST(SmmuCmdq, IllegalCommandStopsQueueUntilAcknowledged) {
  SmmuMachine m;
  Command bad;
  bad.Set(Command::kOpcode, 0x7f);
  ASSERT_TRUE(m.driver->Issue(bad).ok());
  // The gerror handler replaces the command with a SYNC and acknowledges:
  // the SYNC behind it then completes.
  EXPECT_TRUE(m.driver->Sync().ok());
  const uint32_t cons = static_cast<uint32_t>(m.smmu.MmioRead(kCmdqCons, 4));
  EXPECT_EQ(queue_idx::kCmdqConsErr.Get(cons), static_cast<uint64_t>(CmdError::kIll));
  EXPECT_EQ(m.smmu.gerror_irq().hard_runs(), 1u);
  EXPECT_EQ(m.smmu.MmioRead(kGerror, 4), m.smmu.MmioRead(kGerrorn, 4));
}

// A machine whose event queue holds 2 records and whose driver never
// consumes them (no IRQ handlers run while we fill it).
TEST(SmmuEvtq, OverflowCountsLostRecordsAndRecoversWhenSoftwareCatchesUp) {
  SmmuMachine m({}, {.evtq_log2 = 1});
  kernel::Mm& mm = m.NewMm();
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid)}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), 1, mm.pgd(), Asid(1)).ok());
  // Five faults before any handler runs: two fit, three are lost.
  for (int i = 0; i < 5; ++i) m.Dma(kSid, 1, VirtAddr(0x1000 * (i + 1)));
  EXPECT_EQ(m.smmu.events_lost(), 3u);
  EXPECT_EQ(queue_idx::kOvflg.Get(m.smmu.MmioRead(kEvtqProd, 4)), 1u);
  m.Run();  // the handler reads two records and acknowledges the overflow
  EXPECT_EQ(m.driver->events_seen().size(), 2u);
  EXPECT_EQ(m.driver->evtq_overflows(), 1u);
  EXPECT_EQ(queue_idx::kOvackflg.Get(m.smmu.MmioRead(kEvtqCons, 4)), 1u);
  // New events are recorded again.
  m.Dma(kSid, 1, VirtAddr(0x9000));
  m.Run();
  EXPECT_EQ(m.driver->events_seen().size(), 3u);
  EXPECT_EQ(m.smmu.events_lost(), 3u);
}

TEST(SmmuEvtq, StallRecordsWaitForSpaceInsteadOfBeingLost) {
  SmmuMachine m({}, {.evtq_log2 = 1});
  kernel::Mm& mm = m.NewMm();
  ASSERT_TRUE(m.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
  ASSERT_TRUE(m.driver->WriteSvaCd(StreamId(kSid), 1, mm.pgd(), Asid(1)).ok());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(m.Dma(kSid, 1, VirtAddr(0x1000 * (i + 1))).status, TransStatus::kStalled);
  }
  EXPECT_EQ(m.smmu.events_lost(), 0u);
  EXPECT_EQ(m.smmu.pending_stall_records(), 2u);  // queue of 2 is full
  m.Run();  // no IOPF sink: the driver terminates each stall
  EXPECT_EQ(m.smmu.stalled(), 0u);
  EXPECT_EQ(m.driver->events_seen().size(), 4u);
  EXPECT_EQ(m.sim.violations().total(), 0);
}

class SmmuStall : public ::testing::Test {
 protected:
  void SetUp() override {
    mm_ = &m_.NewMm();
    ASSERT_TRUE(m_.driver->AttachMaster({.sid = StreamId(kSid), .stall = true}).ok());
    ASSERT_TRUE(m_.driver->WriteSvaCd(StreamId(kSid), 1, mm_->pgd(), Asid(1)).ok());
    // The driver's handlers would answer; keep the queue unconsumed.
    m_.smmu.evtq_irq().Mask();
  }
  uint64_t StallOne(VirtAddr va) {
    return m_.smmu.Translate(
                   pci::DmaRequest{.rid = StreamId(kSid), .has_pasid = true,
                                   .pasid = Pasid(1), .addr = va},
                   [this](const pci::DmaResult& r) { results_.push_back(r); })
                       .status == pci::DmaStatus::kStalled
               ? 1
               : 0;
  }
  SmmuMachine m_;
  kernel::Mm* mm_ = nullptr;
  std::vector<pci::DmaResult> results_;
};

TEST_F(SmmuStall, ResumeRetriesExactlyOnceAndASecondResumeIsReported) {
  auto va = mm_->Mmap(kPageSize4K, kernel::kProtRead, false);
  ASSERT_TRUE(va.ok());
  ASSERT_EQ(StallOne(*va), 1u);
  ASSERT_EQ(mm_->HandleFault(*va, {}), kernel::FaultResult::kHandled);
  ASSERT_TRUE(m_.driver->Submit({MakeResume(StreamId(kSid), 0, ResumeAction::kRetry)}).ok());
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status, pci::DmaStatus::kTranslated);
  // A second RESUME of the same STAG does nothing to the transaction and
  // is reported as a second answer.
  ASSERT_TRUE(m_.driver->Submit({MakeResume(StreamId(kSid), 0, ResumeAction::kRetry)}).ok());
  EXPECT_EQ(results_.size(), 1u);
  EXPECT_EQ(m_.sim.violations().Count(check::ViolationKind::kFaultAnsweredTwice), 1);
}

TEST_F(SmmuStall, StallTermTerminatesEveryStallOfTheStream) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(StallOne(VirtAddr(0x10000 + i * kPageSize4K)), 1u);
  EXPECT_EQ(m_.smmu.stalled(), 3u);
  ASSERT_TRUE(m_.driver->Submit({MakeStallTerm(StreamId(kSid))}).ok());
  EXPECT_EQ(m_.smmu.stalled(), 0u);
  ASSERT_EQ(results_.size(), 3u);
  for (const auto& r : results_) EXPECT_EQ(r.status, pci::DmaStatus::kAborted);
}

TEST_F(SmmuStall, RetryThatFaultsAgainStallsAgainWithTheSameCompletion) {
  ASSERT_EQ(StallOne(VirtAddr(0x20000)), 1u);  // no VMA: cannot be fixed
  ASSERT_TRUE(m_.driver->Submit({MakeResume(StreamId(kSid), 0, ResumeAction::kRetry)}).ok());
  EXPECT_TRUE(results_.empty());
  EXPECT_EQ(m_.smmu.stalled(), 1u);  // STAG 1 now
  ASSERT_TRUE(m_.driver->Submit({MakeResume(StreamId(kSid), 1, ResumeAction::kAbort)}).ok());
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status, pci::DmaStatus::kAborted);
}

TEST_F(SmmuStall, DisablingTheSmmuTerminatesHeldTransactions) {
  ASSERT_EQ(StallOne(VirtAddr(0x30000)), 1u);
  m_.smmu.MmioWrite(kCr0, 0, 4);
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status, pci::DmaStatus::kAborted);
}

}  // namespace
}  // namespace svaemu::hw::smmuv3
