#include "svaemu/platform/platform.h"

#include "absl/strings/str_cat.h"
#include "svaemu/hw/smmuv3/smmuv3.h"
#include "svaemu/hw/vtd/vtd.h"

namespace svaemu::platform {

namespace smmu_drv = kernel::drivers::smmuv3;

struct Platform::VtdUnit {
  std::unique_ptr<hw::vtd::Vtd> model;
  std::unique_ptr<kernel::vtd::VtdDriver> driver;
  std::unique_ptr<kernel::VtdSvaOps> ops;
};

struct Platform::SmmuUnit {
  std::unique_ptr<hw::smmuv3::SmmuV3> model;
  std::unique_ptr<smmu_drv::SmmuV3Driver> driver;
  std::unique_ptr<kernel::SmmuV3SvaOps> ops;
};

namespace {
sim::SimConfig SimConfigOf(const PlatformConfig& c) {
  sim::SimConfig s;
  s.seed = c.seed;
  s.permute_ready_work = c.permute_ready_work;
  s.schedule_jitter = c.schedule_jitter;
  s.fatal_violations = c.fatal_violations;
  return s;
}
}  // namespace

template <typename Model>
absl::Status Platform::AddDevices(uint16_t unit, Model& model) {
  for (uint16_t index = 0; index < config_.devices_per_unit; ++index) {
    // Requester IDs: bus 0, device index+1, function 0 (devfn = dev << 3).
    const StreamId rid((index + 1u) << 3);
    const uint16_t global = static_cast<uint16_t>(devices_.size());
    hw::pci::EndpointConfig ec;
    ec.rid = rid;
    ec.index = global;
    ec.pasid_bits = config_.device.pasid_bits;
    ec.ats = config_.device.ats;
    ec.pri = config_.device.pri;
    endpoints_.push_back(std::make_unique<hw::pci::Endpoint>(sim_, mem_, ec));
    hw::pci::Endpoint* ep = endpoints_.back().get();
    ep->Connect(&model);
    absl::Status s = model.AttachEndpoint(ep);
    if (!s.ok()) return s;
    kernel::DeviceCaps caps;
    caps.pasid_bits = config_.device.pasid_bits;
    caps.ats = config_.device.ats;
    caps.pri = config_.device.pri;
    caps.stall = config_.arch == Arch::kArm64 && config_.device.stall;
    absl::StatusOr<kernel::Device*> dev = core_->ProbeDevice(
        absl::StrCat("dev", global), unit, rid, caps);
    if (!dev.ok()) return dev.status();
    devices_.push_back(DeviceSlot{ep, *dev, unit});
  }
  return absl::OkStatus();
}

Platform::Platform(const PlatformConfig& config)
    : config_(config),
      sim_(SimConfigOf(config)),
      mem_(sim_, {.size_bytes = config.memory_bytes}),
      alloc_(mem_, {.size_bytes = config.memory_bytes - (1ull << 20) - kBarBytes}) {}

Platform::~Platform() = default;

absl::StatusOr<std::unique_ptr<Platform>> Platform::Create(
    const PlatformConfig& config) {
  if (config.iommu_units == 0 || config.devices_per_unit == 0) {
    return absl::InvalidArgumentError("a platform needs a unit and a device");
  }
  if (config.memory_bytes < 2 * kBarBytes) {
    return absl::InvalidArgumentError("a platform needs at least 4 GiB of physical space");
  }
  std::unique_ptr<Platform> p(new Platform(config));
  absl::Status s = p->Init();
  if (!s.ok()) return s;
  return p;
}

absl::Status Platform::Init() {
  absl::StatusOr<std::unique_ptr<kernel::Kernel>> k =
      kernel::Kernel::Create(sim_, alloc_, {.format = config_.format()});
  if (!k.ok()) return k.status();
  kernel_ = *std::move(k);
  core_ = std::make_unique<kernel::IommuCore>(*kernel_, config_.policies);
  core_->set_default_domain(config_.identity_default_domain
                                ? kernel::DefaultDomain::kIdentity
                                : kernel::DefaultDomain::kBlocked);
  for (uint16_t u = 0; u < config_.iommu_units; ++u) {
    absl::Status s = config_.arch == Arch::kArm64 ? AddSmmuUnit(u) : AddVtdUnit(u);
    if (!s.ok()) return s;
  }
  // SVA last: it installs the KVA invalidation policy on the kernel.
  sva_ = std::make_unique<kernel::Sva>(*core_);
  return absl::OkStatus();
}

absl::Status Platform::AddVtdUnit(uint16_t unit) {
  auto u = std::make_unique<VtdUnit>();
  hw::vtd::VtdConfig mc;
  mc.unit = unit;
  mc.five_level = true;
  mc.pass_through = config_.vtd_pass_through;
  absl::StatusOr<std::unique_ptr<hw::vtd::Vtd>> model =
      hw::vtd::Vtd::Create(sim_, mem_, mc);
  if (!model.ok()) return model.status();
  u->model = *std::move(model);
  kernel::vtd::VtdIrqs irqs{&u->model->fault_irq(), &u->model->prq_irq()};
  kernel::vtd::VtdDriverConfig dc;
  dc.unit = unit;
  absl::StatusOr<std::unique_ptr<kernel::vtd::VtdDriver>> driver =
      kernel::vtd::VtdDriver::Probe(sim_, mem_, alloc_, *u->model, irqs, dc);
  if (!driver.ok()) return driver.status();
  u->driver = *std::move(driver);
  u->ops = std::make_unique<kernel::VtdSvaOps>(sim_, *u->driver, unit,
                                               config_.policies);
  absl::Status s = core_->RegisterUnit(u->ops.get());
  if (!s.ok()) return s;
  u->driver->set_iopf_sink(core_->iopf_queue(unit));
  hw::vtd::Vtd& m = *u->model;
  vtd_units_.push_back(std::move(u));
  return AddDevices(unit, m);
}

absl::Status Platform::AddSmmuUnit(uint16_t unit) {
  auto u = std::make_unique<SmmuUnit>();
  hw::smmuv3::SmmuV3Config mc;
  mc.unit = unit;
  absl::StatusOr<std::unique_ptr<hw::smmuv3::SmmuV3>> model =
      hw::smmuv3::SmmuV3::Create(sim_, mem_, mc);
  if (!model.ok()) return model.status();
  u->model = *std::move(model);
  smmu_drv::SmmuV3IrqLines irqs;
  irqs.evtq = &u->model->evtq_irq();
  irqs.priq = &u->model->priq_irq();
  irqs.cmd_sync = &u->model->cmd_sync_irq();
  irqs.gerror = &u->model->gerror_irq();
  irqs.combined = &u->model->combined_irq();
  smmu_drv::SmmuV3DriverConfig dc;
  dc.unit = unit;
  absl::StatusOr<std::unique_ptr<smmu_drv::SmmuV3Driver>> driver =
      smmu_drv::SmmuV3Driver::Probe(sim_, alloc_, *u->model, irqs, dc);
  if (!driver.ok()) return driver.status();
  u->driver = *std::move(driver);
  u->ops = std::make_unique<kernel::SmmuV3SvaOps>(sim_, *u->driver, unit,
                                                  config_.policies);
  absl::Status s = core_->RegisterUnit(u->ops.get());
  if (!s.ok()) return s;
  u->ops->ConnectIopf(*core_);
  hw::smmuv3::SmmuV3& m = *u->model;
  smmu_units_.push_back(std::move(u));
  return AddDevices(unit, m);
}

hw::vtd::Vtd* Platform::vtd(uint16_t unit) const {
  return unit < vtd_units_.size() ? vtd_units_[unit]->model.get() : nullptr;
}
kernel::vtd::VtdDriver* Platform::vtd_driver(uint16_t unit) const {
  return unit < vtd_units_.size() ? vtd_units_[unit]->driver.get() : nullptr;
}
kernel::VtdSvaOps* Platform::vtd_ops(uint16_t unit) const {
  return unit < vtd_units_.size() ? vtd_units_[unit]->ops.get() : nullptr;
}
hw::smmuv3::SmmuV3* Platform::smmu(uint16_t unit) const {
  return unit < smmu_units_.size() ? smmu_units_[unit]->model.get() : nullptr;
}
smmu_drv::SmmuV3Driver* Platform::smmu_driver(uint16_t unit) const {
  return unit < smmu_units_.size() ? smmu_units_[unit]->driver.get() : nullptr;
}
kernel::SmmuV3SvaOps* Platform::smmu_ops(uint16_t unit) const {
  return unit < smmu_units_.size() ? smmu_units_[unit]->ops.get() : nullptr;
}

uint64_t Platform::invalidation_cycles() const {
  uint64_t c = 0;
  for (const auto& u : vtd_units_) c += u->ops->invalidation_cycles();
  for (const auto& u : smmu_units_) c += u->ops->invalidation_cycles();
  return c;
}

}  // namespace svaemu::platform
