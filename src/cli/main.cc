// svaemu: the command-line front end.
//
//   svaemu demo [--seed N]   run the three lifetime scenarios under their
//                            buggy and fixed policies, one row each; exit 0
//                            only if every buggy run was caught and every
//                            fixed run was clean.
//   svaemu config            print the default platform configuration.
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "svaemu/platform/config.h"
#include "svaemu/scenario/scenarios.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: svaemu demo [--seed N]\n"
               "       svaemu config\n");
  return 2;
}

int Demo(uint64_t seed) {
  using svaemu::scenario::FormatHeader;
  using svaemu::scenario::FormatRow;
  const auto rows = svaemu::scenario::RunAll(seed);
  std::printf("%s\n", FormatHeader().c_str());
  int wrong = 0;
  for (const auto& r : rows) {
    std::printf("%s\n", FormatRow(r).c_str());
    wrong += r.as_expected() ? 0 : 1;
  }
  std::printf("\n%zu runs: %s\n", rows.size(),
              wrong == 0 ? "every buggy run caught, every fixed run clean"
                         : "SOME RUNS DID NOT BEHAVE AS EXPECTED");
  return wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string cmd = argv[1];
  if (cmd == "demo") {
    uint64_t seed = 1;
    for (int i = 2; i < argc; ++i) {
      if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc &&
          absl::SimpleAtoi(argv[i + 1], &seed)) {
        ++i;
      } else {
        return Usage();
      }
    }
    return Demo(seed);
  }
  if (cmd == "config" && argc == 2) {
    std::printf("%s", svaemu::platform::ToText({}).c_str());
    return 0;
  }
  return Usage();
}
