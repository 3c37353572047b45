#include "svaemu/check/violation_log.h"

#include <cstdio>
#include <cstdlib>

#include "svaemu/base/logging.h"

namespace svaemu::check {

ViolationLog::ViolationLog() : logger_(GetLogger("check")) {}
ViolationLog::~ViolationLog() = default;

void ViolationLog::Report(Violation v) {
  std::function<void(const Violation&)> listener;
  bool fatal;
  {
    absl::MutexLock lock(&mu_);
    ++counts_[static_cast<int>(v.kind)];
    log_.push_back(v);
    listener = listener_;
    fatal = fatal_;
  }
  if (logger_->should_log(spdlog::level::info)) {
    logger_->info("{}", FormatViolation(v));
  }
  if (listener) listener(v);
  if (fatal) {
    std::fprintf(stderr, "svaemu: fatal violation\n%s\n",
                 FormatViolation(v).c_str());
    std::fflush(stderr);
    std::abort();
  }
}

std::vector<Violation> ViolationLog::violations() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

int ViolationLog::Count(ViolationKind k) const {
  absl::MutexLock lock(&mu_);
  return counts_[static_cast<int>(k)];
}

int ViolationLog::total() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(log_.size());
}

void ViolationLog::Clear() {
  absl::MutexLock lock(&mu_);
  log_.clear();
  counts_.fill(0);
}

void ViolationLog::set_fatal(bool fatal) {
  absl::MutexLock lock(&mu_);
  fatal_ = fatal;
}

void ViolationLog::set_listener(std::function<void(const Violation&)> fn) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(fn);
}

}  // namespace svaemu::check
