#include "svaemu/kernel/kobject.h"

#include "absl/strings/str_cat.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::kernel {

namespace {
// Serial numbers are per simulation and per type (kept in its stats), so two
// simulations in one process name their objects identically.
uint64_t NextSerial(sim::Simulation& sim, const char* type) {
  sim::Counter* c =
      sim.stats().Register(absl::StrCat("kobject.", type, ".allocated"),
                           "tracked kernel objects allocated", "objects");
  const uint64_t serial = c->value();
  c->Inc();
  return serial;
}
}  // namespace

KObject::KObject(sim::Simulation& sim, const char* type,
                 const char* alloc_site)
    : sim_(sim),
      type_(type),
      serial_(NextSerial(sim, type)),
      alloc_{sim.now(), alloc_site} {}

std::string KObject::name() const { return absl::StrCat(type_, "#", serial_); }

void KObject::Report(check::ViolationKind kind, Agent agent,
                     std::string text) const {
  check::Violation v;
  v.kind = kind;
  v.time = sim_.now();
  v.agent = agent;
  v.object = name();
  v.alloc = alloc_;
  v.free = free_;
  v.text = std::move(text);
  sim_.violations().Report(std::move(v));
}

void KObject::Kfree(const char* site, Agent agent) {
  if (freed()) {
    Report(check::ViolationKind::kDoubleFree, agent,
           absl::StrCat(name(), " freed again at ", site));
    return;
  }
  free_ = check::Site{sim_.now(), site};
  sim_.Trace("kobject", "free", name());
}

bool KObject::Use(Agent agent, const char* what) const {
  if (!freed()) return true;
  Report(check::ViolationKind::kKernelObjectUseAfterFree, agent,
         absl::StrCat(what, " uses ", name(), " after it was freed"));
  return false;
}

}  // namespace svaemu::kernel
