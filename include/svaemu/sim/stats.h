// Named counters with a description and a unit, dumped sorted by name.
//
// Components register their counters once and keep the Counter*; the hot path
// then does a plain increment. Counter addresses are stable for the life of
// the Stats object.
//
// A component whose hot path counts several events per call can instead
// keep the counts inside itself, as Tally members bound to names: an
// increment is then one add at a fixed offset from the component, with no
// Counter* to load first. A named counter's value is its own count plus
// those of the tallies bound to it; UnbindRange() folds a tally's count
// into the counter, so the count outlives the component.
//
// Example:
//   sim::Counter* hits = stats.Register("vtd0.iotlb.hits", "IOTLB hits", "lookups");
//   hits->Inc();
//   std::cout << stats.Dump();
//
//   struct Unit { sim::Tally walks; } u;           // inside the component
//   stats.Bind("vtd0.walks", "walks", "walks", &u.walks);
//   u.walks.Inc();
//   stats.UnbindRange(&u, &u + 1);                 // in its destructor
//
// Thread-safety: Register/Dump/Find are thread-safe. Counter::Inc is a
// single unlocked add to memory on x86-64 (one instruction; elsewhere, and
// under ThreadSanitizer, a relaxed atomic load and store): each access is
// one aligned 8-byte load or store, so a reader never sees a torn value,
// but concurrent increments of one counter from several host threads may
// lose counts. Use IncExact where that matters. value(), Reset() and
// IncExact() are relaxed atomic operations. A Counter keeps its own count in
// a Tally, so its Inc and IncExact are the Tally's. Bind()/UnbindRange()
// must not run while another thread reads the counter they change (a
// component binds when it is built and unbinds when it is destroyed, on
// the thread that owns it).
#ifndef SVAEMU_SIM_STATS_H_
#define SVAEMU_SIM_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

// One unlocked add to memory (see the thread-safety note above).
[[gnu::always_inline]] inline void AddTo(uint64_t* v, uint64_t n) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(SVAEMU_STATS_TSAN)
  // The hot paths count several events per translation: one `add` to
  // memory instead of a load, an add and a store (same guarantee). Not
  // volatile: GCC drops a non-volatile asm only when nothing uses its
  // outputs, and this output is a count that Dump() and value() read (a
  // volatile asm also pins the order of the increments, ~20 more
  // instructions on a VT-d full miss). The counter tests, and every test
  // that checks a model's statistics, would show a dropped increment.
  asm("addq %1, %0" : "+m"(*v) : "er"(n) : "cc");
#else
  std::atomic_ref<uint64_t> r(*v);
  r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
#endif
}

// A count kept inside the component that increments it (see the top of
// the file). Neither copied nor moved: a Stats holds its address while it
// is bound.
class Tally {
 public:
  Tally() = default;
  Tally(const Tally&) = delete;
  Tally& operator=(const Tally&) = delete;
  [[gnu::always_inline]] void Inc(uint64_t n = 1) { AddTo(&v_, n); }
  // An atomic add: no count lost to a concurrent Inc/IncExact.
  void IncExact(uint64_t n = 1) {
    std::atomic_ref<uint64_t>(v_).fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const {
    return std::atomic_ref<uint64_t>(v_).load(std::memory_order_relaxed);
  }
  void Reset() { std::atomic_ref<uint64_t>(v_).store(0, std::memory_order_relaxed); }

 private:
  // Mutable: value() is const and reads through an atomic_ref, which
  // needs a non-const object (C++20 has no atomic_ref<const T>).
  alignas(std::atomic_ref<uint64_t>::required_alignment) mutable uint64_t v_ = 0;
};

class Counter {
 public:
  Counter(std::string description, std::string unit)
      : description_(std::move(description)), unit_(std::move(unit)) {}
  [[gnu::always_inline]] void Inc(uint64_t n = 1) { own_.Inc(n); }
  void IncExact(uint64_t n = 1) { own_.IncExact(n); }
  // The counter's own count plus those of the tallies bound to it.
  uint64_t value() const {
    uint64_t v = own_.value();
    for (const Tally* t : bound_) v += t->value();
    return v;
  }
  // Zeroes the counter and the tallies bound to it.
  void Reset() {
    own_.Reset();
    for (Tally* t : bound_) t->Reset();
  }
  const std::string& description() const { return description_; }
  const std::string& unit() const { return unit_; }

 private:
  friend class Stats;

  Tally own_;  // the counter's own count (Inc through a Counter*)
  std::string description_;
  std::string unit_;
  std::vector<Tally*> bound_;  // changed only under the Stats mutex
};

class Stats {
 public:
  // Returns the counter of that name, creating it on first registration.
  Counter* Register(const std::string& name, std::string description,
                    std::string unit);
  // Binds `t` to the counter of that name (registered as by Register()):
  // from now on the counter's value includes t's count. A tally is bound
  // to one counter at most (binding it again is an emulator bug); several
  // tallies may be bound to one counter (their counts add).
  void Bind(const std::string& name, std::string description, std::string unit, Tally* t);
  // Unbinds every tally whose address is in [begin, end), folding each
  // one's count into its counter. A component calls it with its own
  // extent in its destructor; tallies outside any binding are ignored.
  void UnbindRange(void* begin, void* end);
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
  // Bound tallies by address (UnbindRange visits a range in order).
  std::map<Tally*, Counter*> bound_ ABSL_GUARDED_BY(mu_);
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_STATS_H_
