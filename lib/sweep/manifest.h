#pragma once
// manifest.json of a sweep directory: the experiment as given and as expanded,
// the build, the datasets used (source and checksum), and times.
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "sweep/experiment.h"

namespace normlab {

nlohmann::json sweep_manifest(const Experiment& ex, const ExperimentOptions& opt,
                              const std::string& started, const std::string& finished);

// A store holds runs trained on one version of each dataset. Throws ConfigError
//   "OPTION: DIR's runs were trained on dataset SPEC with checksum OLD; the data now has NEW ..."
// when DIR's manifest.json records a dataset that these runs use (the same spec)
// with another checksum than it has now (an idx:DIR folder or a data file replaced
// since): a resume would mix runs on other data in one folder. Loads only the
// datasets the manifest records; nothing when DIR has no manifest or it records no
// checksum.
void check_same_datasets(const std::string& option, const std::string& dir, const std::vector<RunConfig>& runs);

// The checksum a manifest records for each dataset, by its spec ({} when none).
std::map<std::string, std::string> recorded_checksums(const nlohmann::json& manifest);

// The expanded runs recorded in a manifest, in grid order. Throws ConfigError
// naming the file when it is missing or malformed.
struct ManifestGrid {
  std::string name, grid_hash;
  std::vector<RunConfig> runs;
  nlohmann::json json;
};
ManifestGrid read_manifest_grid(const std::string& path);

}  // namespace normlab
