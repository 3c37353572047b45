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
// single unlocked add to memory on x86-64 (one instruction; elsewhere, and
// under ThreadSanitizer, a relaxed atomic load and store): each access is
// one aligned 8-byte load or store, so a reader never sees a torn value,
// but concurrent increments of one counter from several host threads may
// lose counts. Use IncExact where that matters. value(), Reset() and
// IncExact() are relaxed atomic operations.
#ifndef SVAEMU_SIM_STATS_H_
#define SVAEMU_SIM_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

// ThreadSanitizer does not see inside inline assembly: under it, Inc uses
// the portable form.
#if defined(__SANITIZE_THREAD__)
#define SVAEMU_STATS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SVAEMU_STATS_TSAN 1
#endif
#endif

namespace svaemu::sim {

class Counter {
 public:
  Counter(std::string description, std::string unit)
      : description_(std::move(description)), unit_(std::move(unit)) {}
  [[gnu::always_inline]] void Inc(uint64_t n = 1) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(SVAEMU_STATS_TSAN)
    // The hot paths count several events per translation: one `add` to
    // memory instead of a load, an add and a store (same guarantee). Not
    // volatile: GCC drops a non-volatile asm only when nothing uses its
    // outputs, and this output is a counter that Dump() and value() read
    // (a volatile asm also pins the order of the increments, ~20 more
    // instructions on a VT-d full miss). The counter tests, and every test
    // that checks a model's statistics, would show a dropped increment.
    asm("addq %1, %0" : "+m"(v_) : "er"(n) : "cc");
#else
    Ref().store(Ref().load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
#endif
  }
  void IncExact(uint64_t n = 1) { Ref().fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const {
    return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(v_)).load(std::memory_order_relaxed);
  }
  void Reset() { Ref().store(0, std::memory_order_relaxed); }
  const std::string& description() const { return description_; }
  const std::string& unit() const { return unit_; }

 private:
  std::atomic_ref<uint64_t> Ref() { return std::atomic_ref<uint64_t>(v_); }

  alignas(std::atomic_ref<uint64_t>::required_alignment) uint64_t v_ = 0;
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
