// A scripted IOMMU driver for core/SVA/IOPF tests: it records what the core
// asks of it, gives SVA domains an mmu notifier that counts invalidations,
// and collects page responses.
#ifndef SVAEMU_TESTS_IOMMU_FAKE_IOMMU_TESTUTIL_H_
#define SVAEMU_TESTS_IOMMU_FAKE_IOMMU_TESTUTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "kernel/kernel_testutil.h"
#include "svaemu/kernel/iommu/iommu_core.h"
#include "svaemu/kernel/mm.h"
#include "svaemu/kernel/sva/sva.h"

namespace svaemu::kernel {

class FakeIommu;

class FakeSvaDomain : public Domain, public MmuNotifier {
 public:
  FakeSvaDomain(sim::Simulation& sim, FakeIommu* ops, Mm& mm);
  void InvalidateSecondaryTlbs(Mm&, VirtAddr s, VirtAddr e) override {
    invalidations.emplace_back(s, e);
  }
  void Release(Mm&) override { ++releases; }
  std::vector<std::pair<VirtAddr, VirtAddr>> invalidations;
  int releases = 0;
};

struct Response {
  FaultSource src;
  uint32_t grpid;
  PageResponseCode code;
};

class FakeIommu : public IommuOps {
 public:
  explicit FakeIommu(sim::Simulation& sim, uint16_t unit = 0) : sim_(sim), unit_(unit) {}
  uint16_t unit() const override { return unit_; }
  const char* name() const override { return "fake"; }
  absl::Status ProbeDevice(Device& dev) override {
    log.push_back("probe " + dev.name());
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Domain>> AllocSvaDomain(Device&, Mm& mm) override {
    auto d = std::make_unique<FakeSvaDomain>(sim_, this, mm);
    absl::Status s = mm.RegisterNotifier(d.get());
    if (!s.ok()) return s;
    log.push_back("alloc_sva " + mm.name());
    return std::unique_ptr<Domain>(std::move(d));
  }
  absl::Status SetDevPasid(Device& dev, Pasid pasid, Domain& d, Domain* old) override {
    if (fail_set_for == dev.name()) return absl::InternalError("scripted failure");
    log.push_back("set " + dev.name() + " " + std::to_string(pasid.value()) + " " +
                  d.name() + (old ? " replacing " + old->name() : ""));
    return absl::OkStatus();
  }
  void RemoveDevPasid(Device& dev, Pasid pasid, Domain&) override {
    log.push_back("remove " + dev.name() + " " + std::to_string(pasid.value()));
  }
  void FreeDomain(Domain& d) override {
    auto* f = static_cast<FakeSvaDomain*>(&d);
    if (f->registered()) (void)d.mm()->UnregisterNotifier(f);
    log.push_back("free " + d.name());
  }
  void PageResponse(const FaultSource& src, const IopfFault& last,
                    PageResponseCode code) override {
    responses.push_back({src, last.grpid, code});
  }
  std::vector<std::string> log;
  std::vector<Response> responses;
  std::string fail_set_for;  // SetDevPasid fails for this device

 private:
  sim::Simulation& sim_;
  uint16_t unit_;
};

inline FakeSvaDomain::FakeSvaDomain(sim::Simulation& sim, FakeIommu* ops, Mm& mm)
    : Domain(sim, DomainType::kSva, ops, &mm, "fake_domain_alloc_sva") {}

// A machine with a kernel, the IOMMU core, SVA and one fake unit.
struct SvaMachine : TestMachine {
  explicit SvaMachine(Policies p = {}, arch::PtFormat f = arch::PtFormat::kX86_4Level)
      : TestMachine(f), core(*kernel, p), fake(sim) {
    EXPECT_TRUE(core.RegisterUnit(&fake).ok());
    sva = std::make_unique<Sva>(core);
  }
  Device& NewDevice(const std::string& name, uint32_t rid, DeviceCaps caps = {.pri = true},
                    std::optional<uint32_t> group = std::nullopt) {
    auto d = core.ProbeDevice(name, 0, StreamId(rid), caps, group);
    EXPECT_TRUE(d.ok()) << d.status();
    return **d;
  }
  IommuCore core;
  FakeIommu fake;
  std::unique_ptr<Sva> sva;
};

}  // namespace svaemu::kernel

#endif  // SVAEMU_TESTS_IOMMU_FAKE_IOMMU_TESTUTIL_H_
