// Named spdlog loggers, one per component, quiet by default.
//
// GetLogger("vtd") returns the process-wide logger of that name, creating it
// at level `warn` on first use. Callers on hot paths test
// logger->should_log(level) before formatting anything.
#ifndef SVAEMU_BASE_LOGGING_H_
#define SVAEMU_BASE_LOGGING_H_

#include <memory>
#include <string>

#include "spdlog/spdlog.h"

namespace svaemu {

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name);

}  // namespace svaemu

#endif  // SVAEMU_BASE_LOGGING_H_
