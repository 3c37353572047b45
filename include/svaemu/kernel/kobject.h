// Tracked kernel objects and their quarantine.
//
// The lifetime bugs svaemu reproduces are uses of kernel objects after their
// free (an mm, a domain, an attach handle, a master_domain). The kernel model
// never frees the C++ object when the modelled kernel frees it: the object is
// marked freed and stays in quarantine, and every later use through Use()
// reports kKernelObjectUseAfterFree with the allocation and free sites. So
// the emulator itself never touches freed C++ memory, and a modelled
// use-after-free is a report, not undefined behaviour.
//
// Example:
//   class Domain : public KObject { ... };
//   Domain d(tracker, "domain", "iommu_sva_domain_alloc");
//   d.Kfree("iommu_domain_free");
//   d.Use(Agent::Cpu(), "iopf handler");  // reports, returns false
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_KERNEL_KOBJECT_H_
#define SVAEMU_KERNEL_KOBJECT_H_

#include <cstdint>
#include <string>

#include "svaemu/base/agent.h"
#include "svaemu/check/violation.h"

namespace svaemu::sim {
class Simulation;
}

namespace svaemu::kernel {

class KObject {
 public:
  // `type` and `site` must have static storage duration.
  KObject(sim::Simulation& sim, const char* type, const char* alloc_site);
  virtual ~KObject() = default;
  KObject(const KObject&) = delete;
  KObject& operator=(const KObject&) = delete;

  // kfree(): marks the object freed. A second free reports kDoubleFree.
  void Kfree(const char* site, Agent agent = Agent::Cpu());
  // Every use of the object by modelled code goes through here. Returns true
  // if the object is live; otherwise reports kKernelObjectUseAfterFree
  // (naming `what`, the user) and returns false.
  bool Use(Agent agent, const char* what) const;

  bool freed() const { return free_.valid(); }
  const char* type() const { return type_; }
  uint64_t serial() const { return serial_; }
  // "mm#3".
  std::string name() const;
  const check::Site& alloc_site() const { return alloc_; }
  const check::Site& free_site() const { return free_; }

 protected:
  sim::Simulation& sim() const { return sim_; }

 private:
  void Report(check::ViolationKind kind, Agent agent, std::string text) const;

  sim::Simulation& sim_;
  const char* type_;
  uint64_t serial_;
  check::Site alloc_;
  check::Site free_;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_KOBJECT_H_
