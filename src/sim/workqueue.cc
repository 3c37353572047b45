#include "svaemu/sim/workqueue.h"

#include <algorithm>
#include <vector>

#include "svaemu/sim/simulation.h"

namespace svaemu::sim {

WorkItem::~WorkItem() {
  if (queue_ != nullptr) queue_->Cancel(this);
}

Workqueue::Workqueue(Simulation& sim, std::string name)
    : sim_(sim), name_(std::move(name)) {}

Workqueue::~Workqueue() {
  while (!pending_.empty()) Cancel(pending_.front());
}

bool Workqueue::Queue(WorkItem* item) {
  if (item->queue_ != nullptr) return false;
  item->queue_ = this;
  item->event_ = sim_.events().Schedule(sim_.cost().work_latency, "work",
                                        [this, item] { RunItem(item); });
  pending_.push_back(item);
  sim_.Trace("wq", "queue", name_);
  return true;
}

void Workqueue::RunItem(WorkItem* item) {
  pending_.erase(std::find(pending_.begin(), pending_.end(), item));
  item->queue_ = nullptr;
  item->event_ = kNoEvent;
  ++executed_;
  sim_.Trace("wq", "run", name_);
  // The callback may requeue the item or destroy it (with its owner): run a
  // copy, and touch nothing of the item afterwards.
  std::function<void()> fn = item->fn_;
  fn();
}

bool Workqueue::FlushWork(WorkItem* item) {
  if (item->queue_ != this) return false;
  return sim_.events().RunNow(item->event_);
}

void Workqueue::Flush() {
  sim_.Trace("wq", "flush", name_);
  // Snapshot the events, not the items: an item that runs and is requeued
  // during the flush is new work.
  std::vector<EventId> snapshot;
  snapshot.reserve(pending_.size());
  for (WorkItem* w : pending_) snapshot.push_back(w->event_);
  for (EventId e : snapshot) sim_.events().RunNow(e);
}

bool Workqueue::Cancel(WorkItem* item) {
  if (item->queue_ != this) return false;
  sim_.events().Cancel(item->event_);
  pending_.erase(std::find(pending_.begin(), pending_.end(), item));
  item->queue_ = nullptr;
  item->event_ = kNoEvent;
  return true;
}

}  // namespace svaemu::sim
