// The policies of the three lifetime bugs (../shared/DESIGN.md, "The three
// bugs that define the scope"): each switches between the historical
// behaviour and the fix, so a scenario can show both sides.
#ifndef SVAEMU_KERNEL_POLICY_H_
#define SVAEMU_KERNEL_POLICY_H_

#include <optional>
#include <string_view>

namespace svaemu::kernel {

// Seed bug 1: keeping IOMMU paging-structure caches coherent with freed
// kernel page-table pages.
enum class KvaInvalidation {
  kNone,           // pre-2025: nothing
  kPerFlush,       // posted fix: every SVA mm invalidated at each
                   // flush_tlb_kernel_range()
  kDeferredBatch,  // mainline: deferred page-table free, one whole-kernel
                   // invalidation per batch
  kUserOnlyRoot,   // kPTI-like: the IOMMU root holds no kernel mappings
};

// Seed bug 2: when the PASID of an mm is freed.
enum class PasidLifetime {
  kFreeAtExit,    // 2022 bug: at mm exit, while devices may still use it
  kFreeAtMmdrop,  // fix: in __mmdrop(), after every SVA domain dropped mm_count
};

// What happens to a PASID entry / CD when its mm exits while still bound.
enum class ExitTeardown {
  kDeactivate,     // entry cleared (faults reported)
  kQuiesce,        // entry valid, no walks, faults suppressed
  kDriverDefault,  // SMMUv3 quiesce, VT-d tear-down with faults suppressed
};

// Seed bug 3: freeing the old master_domain on detach/replace.
enum class DetachDrain {
  kNone,   // pre-2026 bug
  kDrain,  // poll EVTQ empty, synchronize IRQs, flush the IOPF queue
};

struct Policies {
  KvaInvalidation kva_invalidation = KvaInvalidation::kDeferredBatch;
  PasidLifetime pasid_lifetime = PasidLifetime::kFreeAtMmdrop;
  ExitTeardown exit_teardown = ExitTeardown::kDriverDefault;
  DetachDrain detach_drain = DetachDrain::kDrain;
  friend bool operator==(const Policies&, const Policies&) = default;
};

// Stable names, as in the configuration and the CLI: "per_flush".
const char* PolicyName(KvaInvalidation p);
const char* PolicyName(PasidLifetime p);
const char* PolicyName(ExitTeardown p);
const char* PolicyName(DetachDrain p);
std::optional<KvaInvalidation> ParseKvaInvalidation(std::string_view s);
std::optional<PasidLifetime> ParsePasidLifetime(std::string_view s);
std::optional<ExitTeardown> ParseExitTeardown(std::string_view s);
std::optional<DetachDrain> ParseDetachDrain(std::string_view s);

}  // namespace svaemu::kernel

#endif  // SVAEMU_KERNEL_POLICY_H_
