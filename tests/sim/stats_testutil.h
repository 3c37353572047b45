// The lines of a statistics dump that start with one of some prefixes, in
// dump order: what two runs that must count alike are compared on.
#ifndef SVAEMU_TESTS_SIM_STATS_TESTUTIL_H_
#define SVAEMU_TESTS_SIM_STATS_TESTUTIL_H_

#include <initializer_list>
#include <string>
#include <vector>

#include "svaemu/sim/stats.h"

namespace svaemu::sim::testing {

inline std::vector<std::string> StatLines(const Stats& stats,
                                          std::initializer_list<const char*> prefixes) {
  std::vector<std::string> out;
  const std::string dump = stats.Dump();
  size_t pos = 0;
  while (pos < dump.size()) {
    size_t end = dump.find('\n', pos);
    if (end == std::string::npos) end = dump.size();
    const std::string line = dump.substr(pos, end - pos);
    pos = end + 1;
    for (const char* p : prefixes) {
      if (line.rfind(p, 0) == 0) {
        out.push_back(line);
        break;
      }
    }
  }
  return out;
}

}  // namespace svaemu::sim::testing

#endif  // SVAEMU_TESTS_SIM_STATS_TESTUTIL_H_
