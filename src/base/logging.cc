#include "svaemu/base/logging.h"

#include "spdlog/sinks/stdout_color_sinks.h"

namespace svaemu {

std::shared_ptr<spdlog::logger> GetLogger(const std::string& name) {
  // spdlog's registry is thread-safe; two racing creators fall back to get().
  if (auto existing = spdlog::get(name)) return existing;
  try {
    auto logger = spdlog::stderr_color_mt(name);
    logger->set_level(spdlog::level::warn);
    return logger;
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get(name);
  }
}

}  // namespace svaemu
