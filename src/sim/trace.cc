#include "svaemu/sim/trace.h"

#include "absl/strings/str_cat.h"

namespace svaemu::sim {
namespace {

constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t Mix(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  // A separator, so ("ab","c") and ("a","bc") hash differently.
  h ^= 0xff;
  return h * kFnvPrime;
}

uint64_t MixU64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= kFnvPrime;
  }
  return h;
}

}  // namespace

void TraceRecorder::set_keep_events(bool keep) {
  absl::MutexLock lock(&mu_);
  keep_events_ = keep;
}

void TraceRecorder::Record(Cycles time, std::string_view component,
                           std::string_view name, std::string_view args) {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  hash_ = Mix(Mix(Mix(MixU64(hash_, time), component), name), args);
  ++count_;
  if (keep_events_) {
    events_.push_back(TraceEvent{time, std::string(component),
                                 std::string(name), std::string(args)});
  }
}

uint64_t TraceRecorder::hash() const {
  absl::MutexLock lock(&mu_);
  return hash_;
}

uint64_t TraceRecorder::count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

std::vector<TraceEvent> TraceRecorder::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

std::string TraceRecorder::Dump() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& e : events_) {
    absl::StrAppend(&out, e.time, " ", e.component, " ", e.name,
                    e.args.empty() ? "" : " ", e.args, "\n");
  }
  return out;
}

void TraceRecorder::Clear() {
  absl::MutexLock lock(&mu_);
  events_.clear();
  hash_ = 0xcbf29ce484222325ull;
  count_ = 0;
}

}  // namespace svaemu::sim
