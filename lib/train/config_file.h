#pragma once
// `normlab train --config FILE.toml`: a TOML table of run keys, e.g.
//   dataset = "mnist"
//   norm = "batch"
//   lr = 0.1
//   widths = [128, 64]
// Keys are those of train's options (dashes or underscores). A list is only
// allowed for list-valued keys (widths); lists of alternatives belong in a sweep.
#include <string>

#include "train/run_config.h"

namespace normlab {

// TOML value as the text RunConfig::set takes ("0.1", "true", "128,64").
// Throws ConfigError naming `where` when the value is a table or a nested list.
std::string toml_value_text(const void* toml_node, const std::string& where);

// Applies every key of the file to cfg. Throws one ConfigError listing every
// problem as FILE:LINE:COL: key: message.
void apply_config_file(RunConfig& cfg, const std::string& path);

}  // namespace normlab
