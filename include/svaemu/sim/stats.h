// Named counters with a description and a unit, dumped sorted by name.
//
// Components register their counters once and keep the Counter*; the hot path
// then does a plain increment. Counter addresses are stable for the life of
// the Stats object.
//
// Example:
//   sim::Counter* hits = stats.Register("vtd0.iotlb.hits", "IOTLB hits", "lookups");
//   hits->Inc();
//   std::cout << stats.Dump();
//
// Thread-safety: Register/Dump/Find are thread-safe. Counter::Inc is a
// relaxed load+store, not an atomic read-modify-write: it never races in the
// C++ sense, but concurrent increments of one counter from several host
// threads may lose counts. Use IncExact where that matters.
#ifndef SVAEMU_SIM_STATS_H_
#define SVAEMU_SIM_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace svaemu::sim {

class Counter {
 public:
  Counter(std::string description, std::string unit)
      : description_(std::move(description)), unit_(std::move(unit)) {}
  [[gnu::always_inline]] void Inc(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void IncExact(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }
  void Reset() { v_.store(0, std::memory_order_relaxed); }
  const std::string& description() const { return description_; }
  const std::string& unit() const { return unit_; }

 private:
  std::atomic<uint64_t> v_{0};
  std::string description_;
  std::string unit_;
};

class Stats {
 public:
  // Returns the counter of that name, creating it on first registration.
  Counter* Register(const std::string& name, std::string description,
                    std::string unit);
  // nullptr if no counter has that name.
  const Counter* Find(const std::string& name) const;
  // Value of a counter, 0 if absent.
  uint64_t Value(const std::string& name) const;
  // "name value unit # description" lines, sorted by name.
  std::string Dump() const;
  void ResetAll();

 private:
  mutable absl::Mutex mu_;
  // std::map: sorted dump and stable node addresses.
  std::map<std::string, Counter> counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_STATS_H_
