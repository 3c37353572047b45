// Modelled latencies, in cycles. Every hardware and deferred-work operation
// charges from here, so an architect can change one number and rerun.
//
// Defaults are round figures of a 2-3 GHz server part: a DRAM read ~100 ns
// is 250 cycles; an on-chip cache lookup a few cycles; an MSI delivery and
// handler entry ~0.5 us; a threaded-IRQ or workqueue wake-up a few us.
#ifndef SVAEMU_SIM_COST_MODEL_H_
#define SVAEMU_SIM_COST_MODEL_H_

#include "svaemu/sim/clock.h"

namespace svaemu::sim {

struct CostModel {
  Cycles mem_read = 250;         // one memory read by an IOMMU walk or fetch
  Cycles mem_write = 250;        // one memory write (A/D update, queue write)
  Cycles cache_lookup = 4;       // one lookup in an on-chip IOMMU cache
  Cycles command = 40;           // processing one queued command/descriptor
  Cycles invalidation_wait = 400;  // completion of a wait/sync descriptor
  Cycles irq_delivery = 1'000;   // raise -> hard handler runs
  Cycles irq_thread_wakeup = 5'000;  // hard handler -> threaded handler runs
  Cycles work_latency = 10'000;  // queue_work -> work item runs
  Cycles dma_issue = 20;         // device issues one request
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_COST_MODEL_H_
