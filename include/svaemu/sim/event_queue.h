// The event queue: deferred work ordered by (virtual time, sequence number).
//
// Everything that does not happen synchronously — interrupt handlers (hard
// and threaded), workqueue items, device DMA — is an event. Step() advances
// the clock to the earliest event and runs it. Events due at the same time run
// in the order they were scheduled, unless schedule permutation is on: then
// Step() picks uniformly, with the simulation's seeded Rng, among the events
// due at the earliest time ("ready work"). That is what the schedule explorer
// uses to find orderings that expose a race; the same seed gives the same
// order.
//
// RunNow() pulls one pending event out and runs it at the current time; that
// is how synchronize_irq() and flush_workqueue() wait for work.
//
// Example:
//   sim::EventQueue q(clock);
//   q.Schedule(100, "dma", [&] { dev.Issue(); });
//   q.RunUntilIdle(/*max_steps=*/1000);
//
// Thread-safety: thread-compatible (the simulation is stepped by one thread).
#ifndef SVAEMU_SIM_EVENT_QUEUE_H_
#define SVAEMU_SIM_EVENT_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "svaemu/sim/clock.h"
#include "svaemu/sim/rng.h"

namespace svaemu::sim {

using EventId = uint64_t;
inline constexpr EventId kNoEvent = 0;

class EventQueue {
 public:
  explicit EventQueue(Clock& clock) : clock_(clock) {}
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Runs `fn` at now() + delay. `name` must have static storage duration.
  EventId Schedule(Cycles delay, const char* name, absl::AnyInvocable<void()> fn);
  // Runs `fn` at time `when` (clamped to now()).
  EventId ScheduleAt(Cycles when, const char* name, absl::AnyInvocable<void()> fn);

  // Removes a pending event without running it. False if not pending.
  bool Cancel(EventId id);
  bool IsPending(EventId id) const { return index_.contains(id); }
  // Removes a pending event and runs it now, without advancing the clock.
  // False if not pending.
  bool RunNow(EventId id);

  // Runs the next event (advancing the clock to its time). False if empty.
  bool Step();
  // Runs events due at or before `t`, then advances the clock to `t`.
  size_t RunUntil(Cycles t);
  // Runs events until none is left or `max_steps` have run. Returns the
  // number run; a caller that needs idleness checks empty() afterwards.
  size_t RunUntilIdle(size_t max_steps);

  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }
  // Time of the earliest pending event; requires !empty().
  Cycles next_time() const { return queue_.begin()->first.first; }
  uint64_t executed() const { return executed_; }

  // With an Rng, Step() permutes events due at the same earliest time and
  // Schedule() delays each new event by a uniform draw in [0, jitter]
  // cycles, so that work ready at nearby times runs in varied orders. Pass
  // nullptr to restore FIFO order. The Rng must outlive the queue.
  void set_permutation(Rng* rng, Cycles jitter = 0) {
    permute_ = rng;
    jitter_ = jitter;
  }

  // Name of the event that is running (nullptr outside an event).
  const char* current() const { return current_; }

 private:
  using Key = std::pair<Cycles, uint64_t>;  // (time, sequence == EventId)
  struct Entry {
    const char* name;
    absl::AnyInvocable<void()> fn;
  };
  void Run(std::map<Key, Entry>::iterator it);

  Clock& clock_;
  std::map<Key, Entry> queue_;
  absl::flat_hash_map<EventId, Cycles> index_;
  uint64_t next_seq_ = 1;
  uint64_t executed_ = 0;
  Rng* permute_ = nullptr;
  Cycles jitter_ = 0;
  const char* current_ = nullptr;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_EVENT_QUEUE_H_
