// Virtual time, counted in cycles.
//
// Nothing in svaemu reads the wall clock. Hardware operations charge cycles
// from the CostModel; deferred work runs at a virtual time.
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_SIM_CLOCK_H_
#define SVAEMU_SIM_CLOCK_H_

#include <cstdint>

#include "svaemu/base/check.h"

namespace svaemu::sim {

using Cycles = uint64_t;

class Clock {
 public:
  Cycles now() const { return now_; }
  void Advance(Cycles delta) { now_ += delta; }
  // Moving backwards is an emulator bug.
  void AdvanceTo(Cycles t) {
    SVAEMU_CHECK(t >= now_);
    now_ = t;
  }

 private:
  Cycles now_ = 0;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_CLOCK_H_
