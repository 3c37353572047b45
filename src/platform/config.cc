#include "svaemu/platform/config.h"

#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace svaemu::platform {
namespace {

// Debian's Abseil has its own string_view; parse with it, hand std ones out.
using SView = absl::string_view;
std::string_view Std(SView v) { return std::string_view(v.data(), v.size()); }

using Setter = std::function<bool(PlatformConfig&, SView)>;

bool ParseBool(SView v, bool* out) {
  if (v == "true" || v == "1" || v == "yes") {
    *out = true;
    return true;
  }
  if (v == "false" || v == "0" || v == "no") {
    *out = false;
    return true;
  }
  return false;
}

template <typename T>
bool ParseUint(SView v, T* out, uint64_t max) {
  uint64_t x;
  if (!absl::SimpleAtoi(v, &x) || x > max) return false;
  *out = static_cast<T>(x);
  return true;
}

template <typename E>
Setter Enum(E PlatformConfig::*field,
            std::optional<E> (*parse)(std::string_view)) {
  return [field, parse](PlatformConfig& c, SView v) {
    std::optional<E> e = parse(Std(v));
    if (!e) return false;
    c.*field = *e;
    return true;
  };
}

template <typename E>
Setter Policy(E kernel::Policies::*field,
              std::optional<E> (*parse)(std::string_view)) {
  return [field, parse](PlatformConfig& c, SView v) {
    std::optional<E> e = parse(Std(v));
    if (!e) return false;
    c.policies.*field = *e;
    return true;
  };
}

std::optional<Arch> ParseArch(std::string_view v) {
  if (v == "x86_64") return Arch::kX86_64;
  if (v == "arm64") return Arch::kArm64;
  return std::nullopt;
}

const std::map<std::string, Setter, std::less<>>& Setters() {
  static const auto* setters = new std::map<std::string, Setter, std::less<>>{
      {"arch", Enum(&PlatformConfig::arch, &ParseArch)},
      {"x86_levels",
       [](PlatformConfig& c, SView v) {
         return ParseUint(v, &c.x86_levels, 5) && (c.x86_levels == 4 || c.x86_levels == 5);
       }},
      {"iommu_units",
       [](PlatformConfig& c, SView v) {
         return ParseUint(v, &c.iommu_units, 64) && c.iommu_units > 0;
       }},
      {"devices_per_unit",
       [](PlatformConfig& c, SView v) {
         return ParseUint(v, &c.devices_per_unit, 256) && c.devices_per_unit > 0;
       }},
      {"device.pasid_bits",
       [](PlatformConfig& c, SView v) {
         return ParseUint(v, &c.device.pasid_bits, 20);
       }},
      {"device.ats", [](PlatformConfig& c, SView v) { return ParseBool(v, &c.device.ats); }},
      {"device.pri", [](PlatformConfig& c, SView v) { return ParseBool(v, &c.device.pri); }},
      {"device.stall", [](PlatformConfig& c, SView v) { return ParseBool(v, &c.device.stall); }},
      {"memory_bytes",
       [](PlatformConfig& c, SView v) {
         return ParseUint(v, &c.memory_bytes, 1ull << 52) && c.memory_bytes % 4096 == 0 &&
                c.memory_bytes > 0;
       }},
      {"seed", [](PlatformConfig& c, SView v) { return ParseUint(v, &c.seed, ~0ull); }},
      {"permute_ready_work",
       [](PlatformConfig& c, SView v) { return ParseBool(v, &c.permute_ready_work); }},
      {"schedule_jitter",
       [](PlatformConfig& c, SView v) { return ParseUint(v, &c.schedule_jitter, 1ull << 40); }},
      {"fatal_violations",
       [](PlatformConfig& c, SView v) { return ParseBool(v, &c.fatal_violations); }},
      {"policy.kva_invalidation",
       Policy(&kernel::Policies::kva_invalidation, &kernel::ParseKvaInvalidation)},
      {"policy.pasid_lifetime",
       Policy(&kernel::Policies::pasid_lifetime, &kernel::ParsePasidLifetime)},
      {"policy.exit_teardown",
       Policy(&kernel::Policies::exit_teardown, &kernel::ParseExitTeardown)},
      {"policy.detach_drain",
       Policy(&kernel::Policies::detach_drain, &kernel::ParseDetachDrain)},
      {"iommu.default_domain",
       [](PlatformConfig& c, SView v) {
         if (v != "blocked" && v != "identity") return false;
         c.identity_default_domain = v == "identity";
         return true;
       }},
      {"vtd.pass_through",
       [](PlatformConfig& c, SView v) { return ParseBool(v, &c.vtd_pass_through); }},
  };
  return *setters;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

std::string ToText(const PlatformConfig& c) {
  return absl::StrCat(
      "arch = ", c.arch == Arch::kArm64 ? "arm64" : "x86_64", "\n",
      "x86_levels = ", c.x86_levels, "\n",
      "iommu_units = ", c.iommu_units, "\n",
      "devices_per_unit = ", c.devices_per_unit, "\n",
      "device.pasid_bits = ", c.device.pasid_bits, "\n",
      "device.ats = ", Bool(c.device.ats), "\n",
      "device.pri = ", Bool(c.device.pri), "\n",
      "device.stall = ", Bool(c.device.stall), "\n",
      "memory_bytes = ", c.memory_bytes, "\n",
      "seed = ", c.seed, "\n",
      "permute_ready_work = ", Bool(c.permute_ready_work), "\n",
      "schedule_jitter = ", c.schedule_jitter, "\n",
      "fatal_violations = ", Bool(c.fatal_violations), "\n",
      "policy.kva_invalidation = ", kernel::PolicyName(c.policies.kva_invalidation), "\n",
      "policy.pasid_lifetime = ", kernel::PolicyName(c.policies.pasid_lifetime), "\n",
      "policy.exit_teardown = ", kernel::PolicyName(c.policies.exit_teardown), "\n",
      "policy.detach_drain = ", kernel::PolicyName(c.policies.detach_drain), "\n",
      "iommu.default_domain = ", c.identity_default_domain ? "identity" : "blocked", "\n",
      "vtd.pass_through = ", Bool(c.vtd_pass_through), "\n");
}

absl::StatusOr<PlatformConfig> ParseConfig(std::string_view std_text) {
  const SView text(std_text.data(), std_text.size());
  PlatformConfig c;
  int line_no = 0;
  for (SView line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (size_t hash = line.find('#'); hash != SView::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::pair<SView, SView> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    const SView key = absl::StripAsciiWhitespace(kv.first);
    const SView value = absl::StripAsciiWhitespace(kv.second);
    auto it = Setters().find(Std(key));
    if (it == Setters().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": unknown key '", key, "'"));
    }
    if (!it->second(c, value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_no, ": bad value '", value, "' for '", key, "'"));
    }
  }
  return c;
}

}  // namespace svaemu::platform
