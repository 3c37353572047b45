// The violation log: every checker in every layer reports here.
//
// Tests query it (violations(), Count()), clear it, or make it fatal: in
// fatal mode the first violation prints its full report to stderr and aborts
// the process, which is what a user running a scenario under a debugger
// wants. Every violation is also logged to the spdlog logger "check" (info
// level) and handed to the listener, which the simulation uses to put it
// into the trace.
//
// Example:
//   check::ViolationLog log;
//   ... run a scenario ...
//   EXPECT_EQ(log.Count(ViolationKind::kWalkThroughFreedFrame), 1);
//
// Thread-safety: thread-safe (Report may be called from any host thread).
#ifndef SVAEMU_CHECK_VIOLATION_LOG_H_
#define SVAEMU_CHECK_VIOLATION_LOG_H_

#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "svaemu/check/violation.h"

namespace spdlog {
class logger;
}

namespace svaemu::check {

class ViolationLog {
 public:
  ViolationLog();
  ~ViolationLog();
  ViolationLog(const ViolationLog&) = delete;
  ViolationLog& operator=(const ViolationLog&) = delete;

  void Report(Violation v);

  std::vector<Violation> violations() const;
  int Count(ViolationKind k) const;
  int total() const;
  void Clear();

  // Fatal mode: abort with the full report at the first violation.
  void set_fatal(bool fatal);
  // Called (outside the log's lock) for every reported violation.
  void set_listener(std::function<void(const Violation&)> fn);

 private:
  mutable absl::Mutex mu_;
  std::vector<Violation> log_ ABSL_GUARDED_BY(mu_);
  std::array<int, kNumViolationKinds> counts_ ABSL_GUARDED_BY(mu_){};
  bool fatal_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const Violation&)> listener_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace svaemu::check

#endif  // SVAEMU_CHECK_VIOLATION_LOG_H_
