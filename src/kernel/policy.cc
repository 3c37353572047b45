#include "svaemu/kernel/policy.h"

#include <array>
#include <utility>

namespace svaemu::kernel {
namespace {

template <typename E, size_t N>
std::optional<E> Parse(const std::array<std::pair<E, const char*>, N>& names,
                       std::string_view s) {
  for (const auto& [value, name] : names) {
    if (s == name) return value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
const char* Name(const std::array<std::pair<E, const char*>, N>& names, E v) {
  for (const auto& [value, name] : names) {
    if (value == v) return name;
  }
  return "?";
}

constexpr std::array<std::pair<KvaInvalidation, const char*>, 4> kKva = {{
    {KvaInvalidation::kNone, "none"},
    {KvaInvalidation::kPerFlush, "per_flush"},
    {KvaInvalidation::kDeferredBatch, "deferred_batch"},
    {KvaInvalidation::kUserOnlyRoot, "user_only_root"},
}};
constexpr std::array<std::pair<PasidLifetime, const char*>, 2> kPasid = {{
    {PasidLifetime::kFreeAtExit, "free_at_exit"},
    {PasidLifetime::kFreeAtMmdrop, "free_at_mmdrop"},
}};
constexpr std::array<std::pair<ExitTeardown, const char*>, 3> kExit = {{
    {ExitTeardown::kDeactivate, "deactivate"},
    {ExitTeardown::kQuiesce, "quiesce"},
    {ExitTeardown::kDriverDefault, "driver_default"},
}};
constexpr std::array<std::pair<DetachDrain, const char*>, 2> kDrain = {{
    {DetachDrain::kNone, "none"},
    {DetachDrain::kDrain, "drain"},
}};

}  // namespace

const char* PolicyName(KvaInvalidation p) { return Name(kKva, p); }
const char* PolicyName(PasidLifetime p) { return Name(kPasid, p); }
const char* PolicyName(ExitTeardown p) { return Name(kExit, p); }
const char* PolicyName(DetachDrain p) { return Name(kDrain, p); }
std::optional<KvaInvalidation> ParseKvaInvalidation(std::string_view s) {
  return Parse(kKva, s);
}
std::optional<PasidLifetime> ParsePasidLifetime(std::string_view s) {
  return Parse(kPasid, s);
}
std::optional<ExitTeardown> ParseExitTeardown(std::string_view s) {
  return Parse(kExit, s);
}
std::optional<DetachDrain> ParseDetachDrain(std::string_view s) {
  return Parse(kDrain, s);
}

}  // namespace svaemu::kernel
