// CacheCounts: the counts every modelled cache keeps —
// "<prefix>.hits/misses/insertions/evictions/invalidations" — as tallies
// inside the cache's owner (sim::Tally: one add each on the hot paths),
// bound to those names from Register() until destroyed or registered
// again (the counts then stay in the Stats).
//
// Example:
//   sim::CacheCounts c;
//   c.Register(stats, "vtd0.iotlb", "lines");
//   c.hits.Inc();
//
// Thread-safety: as sim::Tally (stats.h).
#ifndef SVAEMU_SIM_CACHE_COUNTS_H_
#define SVAEMU_SIM_CACHE_COUNTS_H_

#include <string>

#include "svaemu/sim/stats.h"

namespace svaemu::sim {

struct CacheCounts {
  Tally hits;
  Tally misses;
  Tally insertions;
  Tally evictions;
  Tally invalidations;

  CacheCounts() = default;
  CacheCounts(const CacheCounts&) = delete;
  CacheCounts& operator=(const CacheCounts&) = delete;
  ~CacheCounts() { Unbind(); }

  // Binds the five counts under `prefix`; `unit` names what the cache
  // holds ("lines", "entries"), for the descriptions and units.
  void Register(Stats& stats, const std::string& prefix, const std::string& unit) {
    Unbind();
    stats_ = &stats;
    stats.Bind(prefix + ".hits", "lookups that hit", "lookups", &hits);
    stats.Bind(prefix + ".misses", "lookups that missed", "lookups", &misses);
    stats.Bind(prefix + ".insertions", unit + " filled", unit, &insertions);
    stats.Bind(prefix + ".evictions", unit + " evicted by a fill", unit, &evictions);
    stats.Bind(prefix + ".invalidations", unit + " dropped by an invalidation", unit,
               &invalidations);
  }

 private:
  void Unbind() {
    if (stats_ != nullptr) stats_->UnbindRange(this, this + 1);
    stats_ = nullptr;
  }
  Stats* stats_ = nullptr;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_CACHE_COUNTS_H_
