#include "svaemu/sim/stats.h"

#include "absl/strings/str_cat.h"

namespace svaemu::sim {

Counter* Stats::Register(const std::string& name, std::string description,
                         std::string unit) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = counters_.try_emplace(name, std::move(description),
                                              std::move(unit));
  return &it->second;
}

const Counter* Stats::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = counters_.find(name);
  return it == counters_.end() ? nullptr : &it->second;
}

uint64_t Stats::Value(const std::string& name) const {
  const Counter* c = Find(name);
  return c ? c->value() : 0;
}

std::string Stats::Dump() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, c] : counters_) {
    absl::StrAppend(&out, name, " ", c.value(), " ", c.unit(), " # ",
                    c.description(), "\n");
  }
  return out;
}

void Stats::ResetAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, c] : counters_) c.Reset();
}

}  // namespace svaemu::sim
