// The resource limits of limits.h, read from the environment.
#include "core/limits.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "core/errors.h"

namespace normlab {

namespace {

std::uint64_t env_limit(const char* name, std::uint64_t def) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return def;
  errno = 0;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  // strtoull accepts "-1" (wrapping it); a limit is digits only.
  const bool digits = std::string(v).find_first_not_of("0123456789") == std::string::npos;
  if (!digits || *end != '\0' || errno == ERANGE || n < 1)
    throw ConfigError(fmt::format("{}: '{}' (allowed: a whole number >= 1; default {})", name, v, def));
  return n;
}

}  // namespace

std::uint64_t max_runs() { return env_limit(kMaxRunsEnv, kDefaultMaxRuns); }
std::uint64_t max_memory_mb() { return env_limit(kMaxMemoryEnv, kDefaultMaxMemoryMb); }
std::uint64_t max_data_mb() { return env_limit(kMaxDataEnv, kDefaultMaxDataMb); }
std::uint64_t max_steps() { return env_limit(kMaxStepsEnv, kDefaultMaxSteps); }
std::uint64_t max_file_mb() { return env_limit(kMaxFileEnv, kDefaultMaxFileMb); }

}  // namespace normlab
