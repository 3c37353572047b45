#include "svaemu/sim/stats.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "svaemu/base/check.h"

namespace svaemu::sim {

Counter* Stats::Register(const std::string& name, std::string description,
                         std::string unit) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = counters_.try_emplace(name, std::move(description),
                                              std::move(unit));
  return &it->second;
}

void Stats::Bind(const std::string& name, std::string description, std::string unit,
                 Tally* t) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = counters_.try_emplace(name, std::move(description),
                                              std::move(unit));
  SVAEMU_CHECK(bound_.try_emplace(t, &it->second).second);
  it->second.bound_.push_back(t);
}

void Stats::UnbindRange(void* begin, void* end) {
  absl::MutexLock lock(&mu_);
  // Tallies are ordered by address (std::less: a total order on pointers).
  const std::less<const void*> before;
  auto it = bound_.lower_bound(static_cast<Tally*>(begin));
  while (it != bound_.end() && before(it->first, end)) {
    Tally* t = it->first;
    Counter* c = it->second;
    c->own_.IncExact(t->value());
    std::erase(c->bound_, t);
    it = bound_.erase(it);
  }
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
