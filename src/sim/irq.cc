#include "svaemu/sim/irq.h"

#include "svaemu/sim/simulation.h"

namespace svaemu::sim {

IrqLine::IrqLine(Simulation& sim, std::string name)
    : sim_(sim), name_(std::move(name)) {}

IrqLine::~IrqLine() {
  sim_.events().Cancel(hard_event_);
  sim_.events().Cancel(thread_event_);
}

void IrqLine::Request(HardHandler hard, ThreadHandler thread) {
  hard_ = std::move(hard);
  thread_ = std::move(thread);
  requested_ = true;
}

void IrqLine::Free() {
  SynchronizeIrq();
  hard_ = nullptr;
  thread_ = nullptr;
  requested_ = false;
}

void IrqLine::Raise() {
  ++raised_;
  sim_.Trace("irq", "raise", name_);
  if (masked_) {
    pending_while_masked_ = true;
    return;
  }
  if (hard_event_ != kNoEvent) return;  // coalesced with the pending one
  hard_event_ = sim_.events().Schedule(sim_.cost().irq_delivery, "irq.hard",
                                       [this] { RunHard(); });
}

void IrqLine::Mask() { masked_ = true; }

void IrqLine::Unmask() {
  masked_ = false;
  if (pending_while_masked_) {
    pending_while_masked_ = false;
    --raised_;  // Raise() counts it again
    Raise();
  }
}

void IrqLine::RunHard() {
  hard_event_ = kNoEvent;
  if (!requested_) return;  // spurious: nobody listens
  ++hard_runs_;
  sim_.Trace("irq", "hard", name_);
  const IrqReturn r = hard_ ? hard_() : IrqReturn::kWakeThread;
  if (r == IrqReturn::kWakeThread) WakeThread();
}

void IrqLine::WakeThread() {
  if (!thread_ || thread_event_ != kNoEvent) return;
  thread_event_ = sim_.events().Schedule(sim_.cost().irq_thread_wakeup,
                                         "irq.thread", [this] { RunThread(); });
}

void IrqLine::RunThread() {
  thread_event_ = kNoEvent;
  if (!requested_ || !thread_) return;
  ++thread_runs_;
  sim_.Trace("irq", "thread", name_);
  thread_();
}

void IrqLine::SynchronizeIrq() {
  sim_.Trace("irq", "synchronize", name_);
  // What is pending now must finish; a hard handler may wake the thread,
  // which then counts as in progress too.
  const EventId hard = hard_event_;
  if (hard != kNoEvent) sim_.events().RunNow(hard);
  const EventId thread = thread_event_;
  if (thread != kNoEvent) sim_.events().RunNow(thread);
}

}  // namespace svaemu::sim
