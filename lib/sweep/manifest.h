#pragma once
// manifest.json of a sweep directory: the experiment as given and as expanded,
// the build, the datasets used (source and checksum), and times.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sweep/experiment.h"

namespace normlab {

nlohmann::json sweep_manifest(const Experiment& ex, const ExperimentOptions& opt,
                              const std::string& started, const std::string& finished);

// The expanded runs recorded in a manifest, in grid order. Throws ConfigError
// naming the file when it is missing or malformed.
struct ManifestGrid {
  std::string name, grid_hash;
  std::vector<RunConfig> runs;
  nlohmann::json json;
};
ManifestGrid read_manifest_grid(const std::string& path);

}  // namespace normlab
