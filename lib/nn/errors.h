#pragma once
// Error kinds that map to exit codes at the command line:
//   ConfigError -> 2 (bad input: unknown option, bad value, malformed file),
//   anything else thrown during a run -> the run is recorded as an error.
#include <stdexcept>

namespace normlab {

struct ConfigError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

}  // namespace normlab
