#include "svaemu/check/violation_log.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::check {
namespace {

using ::testing::HasSubstr;

Violation Make(ViolationKind k) {
  Violation v;
  v.kind = k;
  v.time = 77;
  v.agent = Agent::Iommu(1);
  v.frame = PhysAddr(0x5000);
  v.alloc = Site{10, "pte_alloc"};
  v.free = Site{50, "pmd_free_pte_page"};
  v.text = "walk reads a freed frame";
  return v;
}

TEST(ViolationLog, CountsByKindAndClears) {
  ViolationLog log;
  log.Report(Make(ViolationKind::kWalkThroughFreedFrame));
  log.Report(Make(ViolationKind::kWalkThroughFreedFrame));
  log.Report(Make(ViolationKind::kDoubleFree));
  EXPECT_EQ(log.Count(ViolationKind::kWalkThroughFreedFrame), 2);
  EXPECT_EQ(log.Count(ViolationKind::kDoubleFree), 1);
  EXPECT_EQ(log.Count(ViolationKind::kCrossMmDma), 0);
  EXPECT_EQ(log.total(), 3);
  log.Clear();
  EXPECT_EQ(log.total(), 0);
  EXPECT_EQ(log.Count(ViolationKind::kDoubleFree), 0);
}

TEST(ViolationLog, FormatNamesKindAgentFrameAndSites) {
  const std::string s = FormatViolation(Make(ViolationKind::kWalkThroughFreedFrame));
  EXPECT_THAT(s, HasSubstr("walk_through_freed_frame"));
  EXPECT_THAT(s, HasSubstr("iommu1"));
  EXPECT_THAT(s, HasSubstr("0x5000"));
  EXPECT_THAT(s, HasSubstr("pte_alloc @10"));
  EXPECT_THAT(s, HasSubstr("pmd_free_pte_page @50"));
}

TEST(ViolationLog, EveryKindHasADistinctName) {
  std::set<std::string> names;
  for (int k = 0; k < kNumViolationKinds; ++k) {
    names.insert(ViolationKindName(static_cast<ViolationKind>(k)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumViolationKinds));
  EXPECT_EQ(names.count("unknown"), 0u);
}

TEST(ViolationLog, SimulationPutsViolationsIntoTheTrace) {
  sim::Simulation s;
  s.violations().Report(Make(ViolationKind::kDoubleFree));
  auto events = s.trace().events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].component, "check");
  EXPECT_EQ(events[0].name, "double_free");
}

TEST(ViolationLogDeathTest, FatalModeAbortsWithFullReport) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ViolationLog log;
  log.set_fatal(true);
  EXPECT_DEATH(log.Report(Make(ViolationKind::kWalkThroughFreedFrame)),
               "fatal violation(.|\n)*pmd_free_pte_page");
}

}  // namespace
}  // namespace svaemu::check
