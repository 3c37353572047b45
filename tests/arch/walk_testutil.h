// Helpers shared by the walker tests.
#ifndef SVAEMU_TESTS_ARCH_WALK_TESTUTIL_H_
#define SVAEMU_TESTS_ARCH_WALK_TESTUTIL_H_

#include <vector>

#include "svaemu/arch/walk.h"

namespace svaemu::arch {

// A walk observer that keeps every level read, in order.
struct Recorder {
  std::vector<LevelRead> reads;
  void OnRead(const LevelRead& r) { reads.push_back(r); }
};

}  // namespace svaemu::arch

#endif  // SVAEMU_TESTS_ARCH_WALK_TESTUTIL_H_
