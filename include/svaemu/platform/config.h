// PlatformConfig: everything that defines a simulated machine, as a plain
// struct that prints to and parses from a small "key = value" text format
// (one setting per line, '#' starts a comment). Defaults reproduce current
// Linux on realistic hardware.
//
// Example file:
//   arch = x86_64
//   x86_levels = 4
//   iommu_units = 1
//   devices_per_unit = 2
//   device.stall = true
//   policy.kva_invalidation = none
//   iommu.default_domain = identity
//   seed = 42
//
// ToText() prints every key; ParseConfig(ToText(c)) == c.
#ifndef SVAEMU_PLATFORM_CONFIG_H_
#define SVAEMU_PLATFORM_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "svaemu/arch/pt_builder.h"
#include "svaemu/kernel/policy.h"

namespace svaemu::platform {

enum class Arch : uint8_t { kX86_64, kArm64 };

struct DeviceConfig {
  uint8_t pasid_bits = 20;
  bool ats = false;
  bool pri = false;    // PCIe PRI (VT-d page requests / SMMUv3 PRIQ)
  bool stall = false;  // SMMUv3 stall model (ignored on VT-d)
  friend bool operator==(const DeviceConfig&, const DeviceConfig&) = default;
};

struct PlatformConfig {
  Arch arch = Arch::kX86_64;
  uint8_t x86_levels = 4;      // 4 or 5
  uint16_t iommu_units = 1;    // VT-d units (x86) / SMMUs (arm64)
  uint16_t devices_per_unit = 1;
  DeviceConfig device;
  uint64_t memory_bytes = 64ull << 30;
  uint64_t seed = 1;
  bool permute_ready_work = false;
  uint64_t schedule_jitter = 0;  // cycles, with permute_ready_work
  bool fatal_violations = false;
  kernel::Policies policies;
  // The default domain of every group (docs/domains.md): blocked, or
  // identity ("iommu.default_domain = identity").
  bool identity_default_domain = false;
  // VT-d ECAP.PT (pass-through): without it there is no identity domain.
  bool vtd_pass_through = true;

  // The CPU page-table format this configuration implies.
  arch::PtFormat format() const {
    if (arch == Arch::kArm64) return arch::PtFormat::kArm64_4K48;
    return x86_levels == 5 ? arch::PtFormat::kX86_5Level : arch::PtFormat::kX86_4Level;
  }
  friend bool operator==(const PlatformConfig&, const PlatformConfig&) = default;
};

std::string ToText(const PlatformConfig& c);
// InvalidArgument naming the line for an unknown key or a bad value.
absl::StatusOr<PlatformConfig> ParseConfig(std::string_view text);

}  // namespace svaemu::platform

#endif  // SVAEMU_PLATFORM_CONFIG_H_
