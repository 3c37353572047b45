#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "svaemu/scenario/scenarios.h"

namespace svaemu::scenario {
namespace {

TEST(RunAll, EveryBuggyRunIsCaughtAndEveryFixedRunIsClean) {
  std::vector<ScenarioReport> rows = RunAll();
  // kva_uaf: 4 policies x 2 SRE on x86 + arm64; pasid_lifetime: 2 x 2;
  // iopf_drain: 2 policies x (replace, unbind).
  ASSERT_EQ(rows.size(), 17u);
  int buggy = 0;
  for (const ScenarioReport& r : rows) {
    EXPECT_TRUE(r.as_expected()) << FormatRow(r);
    buggy += r.buggy;
  }
  EXPECT_EQ(buggy, 6);  // kva none x2, free_at_exit x2, no drain x2
}

TEST(RunAll, RowsAreDeterministic) {
  std::vector<ScenarioReport> a = RunAll(3);
  std::vector<ScenarioReport> b = RunAll(3);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].trace_hash, b[i].trace_hash) << i;
}

}  // namespace
}  // namespace svaemu::scenario
