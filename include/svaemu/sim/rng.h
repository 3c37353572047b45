// The simulation's only source of randomness: std::mt19937_64, seeded from
// the configuration, with a portable bounded draw (libstdc++'s and libc++'s
// distributions differ; ours does not depend on the standard library).
//
// Thread-safety: thread-compatible.
#ifndef SVAEMU_SIM_RNG_H_
#define SVAEMU_SIM_RNG_H_

#include <cstdint>
#include <random>

namespace svaemu::sim {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() { return engine_(); }
  // Uniform in [0, n), n > 0, by rejection (no modulo bias).
  uint64_t Uniform(uint64_t n) {
    const uint64_t limit = ~0ull - (~0ull % n);
    uint64_t v;
    do {
      v = engine_();
    } while (v >= limit);
    return v % n;
  }
  void Reseed(uint64_t seed) { engine_.seed(seed); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace svaemu::sim

#endif  // SVAEMU_SIM_RNG_H_
