#pragma once
// Resource limits checked before anything runs, so a typo like
// `seeds = 4294967296` or `widths = [32, 100000000]` exits 2 with a message
// instead of exhausting memory. Each limit has a default and an environment
// variable that raises (or lowers) it:
//   NORMLAB_MAX_RUNS       runs one experiment file may expand to (default 100000:
//                          already more than a day of runs of a second each)
//   NORMLAB_MAX_MEMORY_MB  estimated memory of one run's model and scratch, and of
//                          an experiment's expanded run list, in MiB (default 8192)
//   NORMLAB_MAX_DATA_MB    estimated memory of one dataset, in MiB (default 1024: 17x
//                          full MNIST; blobs:n=20000000 is 1603)
//   NORMLAB_MAX_STEPS      training steps of one run (steps, or epochs x batches
//                          per epoch; default 1000000000)
//   NORMLAB_MAX_FILE_MB    size of one file read as input (configs, experiments,
//                          claims, CSVs, weights, IDX, ledgers; default 1024)
// Each throws ConfigError naming the variable when it is set to something other
// than a whole number >= 1.
#include <cstdint>

namespace normlab {

inline constexpr const char* kMaxRunsEnv = "NORMLAB_MAX_RUNS";
inline constexpr const char* kMaxMemoryEnv = "NORMLAB_MAX_MEMORY_MB";
inline constexpr std::uint64_t kDefaultMaxRuns = 100000;
inline constexpr std::uint64_t kDefaultMaxMemoryMb = 8192;
inline constexpr const char* kMaxDataEnv = "NORMLAB_MAX_DATA_MB";
inline constexpr std::uint64_t kDefaultMaxDataMb = 1024;
inline constexpr const char* kMaxStepsEnv = "NORMLAB_MAX_STEPS";
inline constexpr std::uint64_t kDefaultMaxSteps = 1000000000;
inline constexpr const char* kMaxFileEnv = "NORMLAB_MAX_FILE_MB";
inline constexpr std::uint64_t kDefaultMaxFileMb = 1024;
// Bytes the expanded run list holds per run (a RunConfig and its resolved
// TrainSpec, measured at about 6 KB): runs x this is checked against
// NORMLAB_MAX_MEMORY_MB before a grid is expanded.
inline constexpr std::uint64_t kBytesPerListedRun = 8192;

std::uint64_t max_runs();
std::uint64_t max_memory_mb();
std::uint64_t max_data_mb();
std::uint64_t max_steps();
std::uint64_t max_file_mb();

}  // namespace normlab
