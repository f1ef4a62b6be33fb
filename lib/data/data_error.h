#pragma once
// A dataset that cannot be used: missing, truncated or corrupt file, label out
// of range, bad dataset spec. It is a ConfigError, so the CLI exits with code 2.
// Messages name the file (or spec), what was expected and what was found.
#include "nn/errors.h"

namespace normlab {

struct DataError : ConfigError {
  using ConfigError::ConfigError;
};

}  // namespace normlab
