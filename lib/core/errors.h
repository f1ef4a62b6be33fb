#pragma once
// Error kinds that map to exit codes at the command line:
//   ConfigError -> 2 (bad input: unknown option, bad value, malformed file),
//   DataError   -> 2 (a dataset that cannot be used: missing, truncated or
//                  corrupt file, label out of range, bad dataset spec),
//   Interrupted -> 128 + the signal (a sweep stopped by SIGINT, SIGTERM or
//                  SIGUSR1 after saving what was complete),
//   anything else thrown during a run -> the run is recorded as an error.
// Messages name the file, key or spec, what was expected and what was found.
#include <stdexcept>
#include <string>

namespace normlab {

struct ConfigError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct DataError : ConfigError {
  using ConfigError::ConfigError;
};

struct Interrupted : std::runtime_error {
  Interrupted(int sig, const std::string& what) : std::runtime_error(what), signal(sig) {}
  int signal;
};

}  // namespace normlab
