// Interrupt lines with a hard handler and a threaded handler, as Linux's
// request_threaded_irq() sets them up.
//
// Raise() is the device asserting the line (an MSI write or a wired
// interrupt). The hard handler runs as an event after the cost model's
// irq_delivery; if it returns kWakeThread, the threaded handler runs after
// irq_thread_wakeup. A raise while the hard handler is still pending
// coalesces with it (one pending bit per line); a wake while the thread is
// already woken coalesces too (IRQTF_RUNTHREAD). A masked line keeps one
// pending raise and delivers it on unmask.
//
// SynchronizeIrq() is synchronize_irq(): it returns only after every handler
// invocation that was pending when it was called — hard and threaded, and the
// thread that such a hard handler wakes — has run. It runs them now, in
// order, at the current virtual time. Raises that happen while it runs are
// new interrupts and stay pending.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_SIM_IRQ_H_
#define SVAEMU_SIM_IRQ_H_

#include <functional>
#include <string>

#include "svaemu/sim/event_queue.h"

namespace svaemu::sim {

class Simulation;
class Counter;

enum class IrqReturn { kNone, kHandled, kWakeThread };

class IrqLine {
 public:
  using HardHandler = std::function<IrqReturn()>;
  using ThreadHandler = std::function<void()>;

  IrqLine(Simulation& sim, std::string name);
  ~IrqLine();
  IrqLine(const IrqLine&) = delete;
  IrqLine& operator=(const IrqLine&) = delete;

  // request_threaded_irq(): a null `hard` means "wake the thread"
  // (irq_default_primary_handler). Replaces earlier handlers.
  void Request(HardHandler hard, ThreadHandler thread);
  // free_irq(): synchronizes, then removes the handlers.
  void Free();
  bool requested() const { return requested_; }

  // The device asserts the line.
  void Raise();
  void Mask();
  void Unmask();
  bool masked() const { return masked_; }

  // synchronize_irq().
  void SynchronizeIrq();

  bool hard_pending() const { return hard_event_ != kNoEvent; }
  bool thread_pending() const { return thread_event_ != kNoEvent; }
  const std::string& name() const { return name_; }
  uint64_t raised() const { return raised_; }
  uint64_t hard_runs() const { return hard_runs_; }
  uint64_t thread_runs() const { return thread_runs_; }

 private:
  void RunHard();
  void RunThread();
  void WakeThread();

  Simulation& sim_;
  std::string name_;
  HardHandler hard_;
  ThreadHandler thread_;
  bool requested_ = false;
  bool masked_ = false;
  bool pending_while_masked_ = false;
  EventId hard_event_ = kNoEvent;
  EventId thread_event_ = kNoEvent;
  uint64_t raised_ = 0;
  uint64_t hard_runs_ = 0;
  uint64_t thread_runs_ = 0;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_IRQ_H_
