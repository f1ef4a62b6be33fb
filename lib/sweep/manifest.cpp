// Sweep manifest: JSON with the experiment, its expansion (run_id + every
// key), build facts and each dataset's provenance.
#include "sweep/manifest.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "data/dataset.h"
#include "core/errors.h"
#include "results/manifest.h"

namespace normlab {

nlohmann::json sweep_manifest(const Experiment& ex, const ExperimentOptions& opt,
                              const std::string& started, const std::string& finished) {
  nlohmann::json runs = nlohmann::json::array();
  std::set<std::string> names;
  for (const auto& r : ex.runs) {
    runs.push_back({{"run_id", r.run_id()}, {"config", r.values()}});
    names.insert(r.get("dataset"));
  }
  std::vector<std::shared_ptr<const Dataset>> loaded;  // cached: already loaded by the runs
  std::vector<const Dataset*> datasets;
  for (const auto& n : names) datasets.push_back(loaded.emplace_back(load_dataset(n)).get());
  nlohmann::json sets = nlohmann::json::object();
  for (const auto& [k, v] : opt.sets) sets[k] = v;
  const nlohmann::json what = {
      {"experiment", {{"name", ex.name}, {"path", ex.path}, {"profile", ex.profile}, {"set", sets}, {"text", ex.text}}},
      {"grid_hash", ex.grid_hash},
      {"runs", runs}};
  return make_manifest("sweep", what, datasets, started, finished);
}

ManifestGrid read_manifest_grid(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: no manifest (is this a sweep directory?)", path));
  ManifestGrid g;
  try {
    g.json = nlohmann::json::parse(in);
    g.name = g.json.at("experiment").at("name").get<std::string>();
    g.grid_hash = g.json.at("grid_hash").get<std::string>();
    for (const auto& r : g.json.at("runs")) {
      RunConfig cfg;
      for (const auto& [k, v] : r.at("config").items()) cfg.set(k, v.get<std::string>());
      g.runs.push_back(std::move(cfg));
    }
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("{}: malformed manifest ({})", path, e.what()));
  }
  return g;
}

}  // namespace normlab
