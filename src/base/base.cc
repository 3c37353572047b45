#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "svaemu/base/agent.h"
#include "svaemu/base/check.h"
#include "svaemu/base/strong_types.h"

namespace svaemu {

std::string Hex(uint64_t v) { return absl::StrCat("0x", absl::Hex(v)); }

std::string AgentName(Agent a) {
  switch (a.kind) {
    case AgentKind::kCpu:
      return absl::StrCat("cpu", a.index);
    case AgentKind::kIommu:
      return absl::StrCat("iommu", a.index);
    case AgentKind::kDevice:
      return absl::StrCat("dev", a.index);
  }
  return "agent?";
}

const char* PurposeName(Purpose p) {
  switch (p) {
    case Purpose::kData: return "data";
    case Purpose::kPageTableWalk: return "page-table walk";
    case Purpose::kAdUpdate: return "A/D update";
    case Purpose::kPageTableUpdate: return "page-table update";
    case Purpose::kTableFetch: return "table fetch";
    case Purpose::kQueueRead: return "queue read";
    case Purpose::kQueueWrite: return "queue write";
    case Purpose::kDmaRead: return "DMA read";
    case Purpose::kDmaWrite: return "DMA write";
    case Purpose::kKernelObject: return "kernel object";
  }
  return "purpose?";
}

namespace internal {
void CheckFailed(const char* cond, const char* file, int line,
                 const char* msg) {
  std::fprintf(stderr, "%s:%d: SVAEMU_CHECK failed: %s%s%s\n", file, line,
               cond, msg ? ": " : "", msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

}  // namespace svaemu
