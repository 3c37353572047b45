#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/sim/irq.h"
#include "svaemu/sim/simulation.h"
#include "svaemu/sim/workqueue.h"

namespace svaemu::sim {
namespace {

using ::testing::ElementsAre;

TEST(IrqLine, HardHandlerRunsAfterDeliveryLatencyAndWakesThread) {
  Simulation s;
  IrqLine line(s, "evtq");
  std::vector<std::pair<std::string, Cycles>> log;
  line.Request(
      [&] {
        log.emplace_back("hard", s.now());
        return IrqReturn::kWakeThread;
      },
      [&] { log.emplace_back("thread", s.now()); });
  line.Raise();
  s.RunUntilIdle(10);
  const CostModel& c = s.cost();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], std::make_pair(std::string("hard"), c.irq_delivery));
  EXPECT_EQ(log[1], std::make_pair(std::string("thread"),
                                   c.irq_delivery + c.irq_thread_wakeup));
}

TEST(IrqLine, RaisesWhileHardPendingCoalesce) {
  Simulation s;
  IrqLine line(s, "l");
  int hard = 0;
  line.Request([&] { ++hard; return IrqReturn::kHandled; }, nullptr);
  line.Raise();
  line.Raise();
  line.Raise();
  s.RunUntilIdle(10);
  EXPECT_EQ(hard, 1);
  EXPECT_EQ(line.raised(), 3u);
}

TEST(IrqLine, NullHardHandlerWakesThread) {
  Simulation s;
  IrqLine line(s, "l");
  int thread = 0;
  line.Request(nullptr, [&] { ++thread; });
  line.Raise();
  s.RunUntilIdle(10);
  EXPECT_EQ(thread, 1);
}

TEST(IrqLine, SynchronizeIrqRunsPendingHardAndTheThreadItWakes) {
  Simulation s;
  IrqLine line(s, "l");
  std::vector<std::string> log;
  line.Request([&] { log.push_back("hard"); return IrqReturn::kWakeThread; },
               [&] { log.push_back("thread"); });
  line.Raise();
  line.SynchronizeIrq();
  EXPECT_THAT(log, ElementsAre("hard", "thread"));
  EXPECT_EQ(s.now(), 0u);  // ran now, in virtual time
  EXPECT_TRUE(s.events().empty());
}

TEST(IrqLine, SynchronizeIrqDoesNotWaitForRaisesItCauses) {
  Simulation s;
  IrqLine line(s, "l");
  int thread_runs = 0;
  line.Request(nullptr, [&] {
    ++thread_runs;
    line.Raise();  // hardware raises again while the thread runs
  });
  line.Raise();
  line.SynchronizeIrq();
  EXPECT_EQ(thread_runs, 1);
  EXPECT_TRUE(line.hard_pending());
}

TEST(IrqLine, MaskedRaiseIsDeliveredOnUnmask) {
  Simulation s;
  IrqLine line(s, "l");
  int hard = 0;
  line.Request([&] { ++hard; return IrqReturn::kHandled; }, nullptr);
  line.Mask();
  line.Raise();
  s.RunUntilIdle(10);
  EXPECT_EQ(hard, 0);
  line.Unmask();
  s.RunUntilIdle(10);
  EXPECT_EQ(hard, 1);
  EXPECT_EQ(line.raised(), 1u);
}

TEST(Workqueue, QueueOnPendingItemReturnsFalse) {
  Simulation s;
  Workqueue wq(s, "iopf");
  int runs = 0;
  WorkItem w([&] { ++runs; });
  EXPECT_TRUE(wq.Queue(&w));
  EXPECT_FALSE(wq.Queue(&w));
  s.RunUntilIdle(10);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(s.now(), s.cost().work_latency);
}

TEST(Workqueue, ItemsRunInQueueOrder) {
  Simulation s;
  Workqueue wq(s, "q");
  std::vector<int> order;
  WorkItem a([&] { order.push_back(1); });
  WorkItem b([&] { order.push_back(2); });
  WorkItem c([&] { order.push_back(3); });
  wq.Queue(&a);
  wq.Queue(&b);
  wq.Queue(&c);
  s.RunUntilIdle(10);
  EXPECT_THAT(order, ElementsAre(1, 2, 3));
}

TEST(Workqueue, FlushRunsItemsPendingAtCallButNotTheirRequeues) {
  Simulation s;
  Workqueue wq(s, "q");
  int a_runs = 0;
  int b_runs = 0;
  WorkItem b([&] { ++b_runs; });
  WorkItem a([&] {
    ++a_runs;
    wq.Queue(&b);  // new work queued during the flush
  });
  wq.Queue(&a);
  wq.Flush();
  EXPECT_EQ(a_runs, 1);
  EXPECT_EQ(b_runs, 0);
  EXPECT_EQ(wq.pending(), 1u);
}

TEST(Workqueue, FlushWorkRunsOnlyThatItem) {
  Simulation s;
  Workqueue wq(s, "q");
  int a_runs = 0, b_runs = 0;
  WorkItem a([&] { ++a_runs; });
  WorkItem b([&] { ++b_runs; });
  wq.Queue(&a);
  wq.Queue(&b);
  EXPECT_TRUE(wq.FlushWork(&b));
  EXPECT_EQ(a_runs, 0);
  EXPECT_EQ(b_runs, 1);
  EXPECT_FALSE(wq.FlushWork(&b));
}

TEST(Workqueue, DestroyingPendingItemCancelsIt) {
  Simulation s;
  Workqueue wq(s, "q");
  int runs = 0;
  {
    WorkItem w([&] { ++runs; });
    wq.Queue(&w);
  }
  s.RunUntilIdle(10);
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(wq.pending(), 0u);
}

}  // namespace
}  // namespace svaemu::sim
