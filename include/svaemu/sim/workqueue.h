// Workqueues and work items, as Linux's queue_work()/flush_work()/
// flush_workqueue() behave.
//
// A WorkItem is a work_struct: a callback that is either idle or pending on
// one queue. Queue() on a pending item does nothing and returns false. A
// queued item runs as an event after the cost model's work_latency. Items of
// one queue run in the order they were queued (an ordered workqueue) unless
// schedule permutation reorders ready work across the whole simulation.
//
// FlushWork(item) returns after that item, if pending, has run.
// Flush() (flush_workqueue) returns after every item that was pending when it
// was called has run; items those items queue are new work and stay pending.
//
// Ownership: a WorkItem must outlive its pending state; destroying a pending
// item cancels it. A running callback may requeue or destroy its own item.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_SIM_WORKQUEUE_H_
#define SVAEMU_SIM_WORKQUEUE_H_

#include <deque>
#include <functional>
#include <string>

#include "svaemu/sim/event_queue.h"

namespace svaemu::sim {

class Simulation;
class Workqueue;

class WorkItem {
 public:
  explicit WorkItem(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~WorkItem();
  WorkItem(const WorkItem&) = delete;
  WorkItem& operator=(const WorkItem&) = delete;
  bool pending() const { return queue_ != nullptr; }

 private:
  friend class Workqueue;
  std::function<void()> fn_;
  Workqueue* queue_ = nullptr;
  EventId event_ = kNoEvent;
};

class Workqueue {
 public:
  Workqueue(Simulation& sim, std::string name);
  ~Workqueue();
  Workqueue(const Workqueue&) = delete;
  Workqueue& operator=(const Workqueue&) = delete;

  // queue_work(): false if the item is already pending (on any queue).
  bool Queue(WorkItem* item);
  // flush_work(): true if it had to run the item.
  bool FlushWork(WorkItem* item);
  // flush_workqueue().
  void Flush();
  // cancel_work(): true if the item was pending.
  bool Cancel(WorkItem* item);

  size_t pending() const { return pending_.size(); }
  const std::string& name() const { return name_; }
  uint64_t executed() const { return executed_; }

 private:
  void RunItem(WorkItem* item);

  Simulation& sim_;
  std::string name_;
  std::deque<WorkItem*> pending_;  // queue order
  uint64_t executed_ = 0;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_WORKQUEUE_H_
