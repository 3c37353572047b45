#include "svaemu/sim/event_queue.h"

#include <algorithm>

namespace svaemu::sim {

EventId EventQueue::Schedule(Cycles delay, const char* name,
                             absl::AnyInvocable<void()> fn) {
  if (permute_ != nullptr && jitter_ > 0) delay += permute_->Uniform(jitter_ + 1);
  return ScheduleAt(clock_.now() + delay, name, std::move(fn));
}

EventId EventQueue::ScheduleAt(Cycles when, const char* name,
                               absl::AnyInvocable<void()> fn) {
  when = std::max(when, clock_.now());
  const EventId id = next_seq_++;
  queue_.emplace(Key{when, id}, Entry{name, std::move(fn)});
  index_.emplace(id, when);
  return id;
}

bool EventQueue::Cancel(EventId id) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  queue_.erase(Key{it->second, id});
  index_.erase(it);
  return true;
}

void EventQueue::Run(std::map<Key, Entry>::iterator it) {
  // Move the entry out before running: the callback may schedule or cancel.
  Entry e = std::move(it->second);
  index_.erase(it->first.second);
  queue_.erase(it);
  const char* outer = current_;
  current_ = e.name;
  ++executed_;
  e.fn();
  current_ = outer;
}

bool EventQueue::RunNow(EventId id) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  Run(queue_.find(Key{it->second, id}));
  return true;
}

bool EventQueue::Step() {
  if (queue_.empty()) return false;
  auto it = queue_.begin();
  const Cycles t = it->first.first;
  if (permute_ != nullptr) {
    // Count the events that are ready at the earliest time and pick one.
    auto end = queue_.lower_bound(Key{t + 1, 0});
    const auto ready = static_cast<uint64_t>(std::distance(it, end));
    if (ready > 1) std::advance(it, permute_->Uniform(ready));
  }
  clock_.AdvanceTo(t);
  Run(it);
  return true;
}

size_t EventQueue::RunUntil(Cycles t) {
  size_t n = 0;
  while (!queue_.empty() && next_time() <= t) {
    Step();
    ++n;
  }
  if (t > clock_.now()) clock_.AdvanceTo(t);
  return n;
}

size_t EventQueue::RunUntilIdle(size_t max_steps) {
  size_t n = 0;
  while (n < max_steps && Step()) ++n;
  return n;
}

}  // namespace svaemu::sim
