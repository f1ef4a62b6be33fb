#pragma once
// Resource limits checked before anything runs, so a typo like
// `seeds = 4294967296` or `widths = [32, 100000000]` exits 2 with a message
// instead of exhausting memory. Each limit has a default and an environment
// variable that raises (or lowers) it:
//   NORMLAB_MAX_RUNS       runs one experiment file may expand to (default 1000000)
//   NORMLAB_MAX_MEMORY_MB  estimated memory of one run's model, in MiB (default 8192)
// Both throw ConfigError naming the variable when it is set to something other
// than a whole number >= 1.
#include <cstdint>

namespace normlab {

inline constexpr const char* kMaxRunsEnv = "NORMLAB_MAX_RUNS";
inline constexpr const char* kMaxMemoryEnv = "NORMLAB_MAX_MEMORY_MB";
inline constexpr std::uint64_t kDefaultMaxRuns = 1000000;
inline constexpr std::uint64_t kDefaultMaxMemoryMb = 8192;

std::uint64_t max_runs();
std::uint64_t max_memory_mb();

}  // namespace normlab
