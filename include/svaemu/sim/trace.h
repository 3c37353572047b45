// A recorder of timestamped events: (time, component, name, arguments).
//
// The running hash (64-bit FNV-1a over every recorded field) is what the
// determinism tests compare: the same configuration and seed must give the
// same hash. Later issues export the events (Chrome trace, text).
//
// Recording is off when !enabled(); callers on hot paths test enabled()
// before building argument strings.
//
// Thread-safety: thread-safe.
#ifndef SVAEMU_SIM_TRACE_H_
#define SVAEMU_SIM_TRACE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "svaemu/sim/clock.h"

namespace svaemu::sim {

struct TraceEvent {
  Cycles time = 0;
  std::string component;
  std::string name;
  std::string args;
};

class TraceRecorder {
 public:
  bool enabled() const { return enabled_; }
  void set_enabled(bool on) { enabled_ = on; }
  // Keep the events themselves (default) or only the hash and count.
  void set_keep_events(bool keep);

  void Record(Cycles time, std::string_view component, std::string_view name,
              std::string_view args = {});

  uint64_t hash() const;
  uint64_t count() const;
  std::vector<TraceEvent> events() const;
  // One line per event: "<time> <component> <name> <args>".
  std::string Dump() const;
  void Clear();

 private:
  bool enabled_ = true;
  mutable absl::Mutex mu_;
  bool keep_events_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<TraceEvent> events_ ABSL_GUARDED_BY(mu_);
  uint64_t hash_ ABSL_GUARDED_BY(mu_) = 0xcbf29ce484222325ull;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_TRACE_H_
