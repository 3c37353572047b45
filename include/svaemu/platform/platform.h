// Platform: a whole simulated machine assembled from a PlatformConfig.
//
// x86_64 gets Intel VT-d units, arm64 gets SMMUv3s. Each unit is a hardware
// model, its driver (which programs the model only through MMIO, memory and
// interrupts), and the driver's SVA operations registered with the IOMMU
// core. Every device is a PCIe endpoint behind one unit, probed into the
// core. The kernel model, the IOMMU core and SVA sit on top, with the
// configuration's policies.
//
// Example:
//   auto p = platform::Platform::Create({.arch = platform::Arch::kArm64});
//   kernel::Mm* mm = *(*p)->NewProcess();
//   auto handle = (*p)->sva().Bind(*(*p)->device(0).dev, *mm);
//   (*p)->device(0).ep->Write((*handle)->pasid(), va, bytes);
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_PLATFORM_PLATFORM_H_
#define SVAEMU_PLATFORM_PLATFORM_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "svaemu/hw/pci/endpoint.h"
#include "svaemu/kernel/drivers/smmuv3_sva.h"
#include "svaemu/kernel/drivers/vtd_sva.h"
#include "svaemu/kernel/iommu/iommu_core.h"
#include "svaemu/kernel/kernel.h"
#include "svaemu/kernel/sva/sva.h"
#include "svaemu/mem/frame_allocator.h"
#include "svaemu/platform/config.h"
#include "svaemu/sim/simulation.h"

namespace svaemu::hw::vtd {
class Vtd;
}
namespace svaemu::hw::smmuv3 {
class SmmuV3;
}

namespace svaemu::platform {

// One device: the endpoint that issues DMA and the core's view of it.
struct DeviceSlot {
  hw::pci::Endpoint* ep = nullptr;
  kernel::Device* dev = nullptr;
  uint16_t unit = 0;
};

class Platform {
 public:
  static absl::StatusOr<std::unique_ptr<Platform>> Create(
      const PlatformConfig& config);
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  const PlatformConfig& config() const { return config_; }
  sim::Simulation& sim() { return sim_; }
  mem::PhysMem& mem() { return mem_; }
  mem::FrameAllocator& alloc() { return alloc_; }
  kernel::Kernel& kernel() { return *kernel_; }
  kernel::IommuCore& core() { return *core_; }
  kernel::Sva& sva() { return *sva_; }

  // The top of physical memory is left to device BARs (MMIO space the frame
  // allocator never hands out, untracked by the shadow): what a huge
  // ioremap/vmap of device memory maps.
  static constexpr uint64_t kBarBytes = 2ull << 30;
  PhysAddr bar_base() const { return PhysAddr(config_.memory_bytes - kBarBytes); }

  // A new process: an mm with one user.
  absl::StatusOr<kernel::Mm*> NewProcess() { return kernel_->NewMm(); }

  size_t num_devices() const { return devices_.size(); }
  const DeviceSlot& device(size_t i) const { return devices_.at(i); }

  // Per unit; nullptr for the other architecture's kind.
  hw::vtd::Vtd* vtd(uint16_t unit) const;
  kernel::vtd::VtdDriver* vtd_driver(uint16_t unit) const;
  kernel::VtdSvaOps* vtd_ops(uint16_t unit) const;
  hw::smmuv3::SmmuV3* smmu(uint16_t unit) const;
  kernel::drivers::smmuv3::SmmuV3Driver* smmu_driver(uint16_t unit) const;
  kernel::SmmuV3SvaOps* smmu_ops(uint16_t unit) const;

  // Modelled cycles spent in SVA invalidations, over every unit.
  uint64_t invalidation_cycles() const;

 private:
  explicit Platform(const PlatformConfig& config);
  absl::Status Init();
  absl::Status AddVtdUnit(uint16_t unit);
  absl::Status AddSmmuUnit(uint16_t unit);
  // Endpoints behind `model` (a Vtd or SmmuV3), probed into the core.
  template <typename Model>
  absl::Status AddDevices(uint16_t unit, Model& model);

  struct VtdUnit;
  struct SmmuUnit;

  PlatformConfig config_;
  sim::Simulation sim_;
  mem::PhysMem mem_;
  mem::FrameAllocator alloc_;
  std::unique_ptr<kernel::Kernel> kernel_;
  std::unique_ptr<kernel::IommuCore> core_;
  std::vector<std::unique_ptr<VtdUnit>> vtd_units_;
  std::vector<std::unique_ptr<SmmuUnit>> smmu_units_;
  std::vector<std::unique_ptr<hw::pci::Endpoint>> endpoints_;
  std::vector<DeviceSlot> devices_;
  std::unique_ptr<kernel::Sva> sva_;
};

}  // namespace svaemu::platform

#endif  // SVAEMU_PLATFORM_PLATFORM_H_
