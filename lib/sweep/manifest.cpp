// Sweep manifest: JSON with the experiment, its expansion (run_id + every
// key), build facts and each dataset's provenance.
#include "sweep/manifest.h"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "core/read_file.h"
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

std::map<std::string, std::string> recorded_checksums(const nlohmann::json& m) {
  std::map<std::string, std::string> out;
  if (!m.is_object() || !m.contains("datasets") || !m["datasets"].is_array()) return out;
  for (const auto& d : m["datasets"])
    if (d.is_object() && d.contains("name") && d.contains("checksum") && d["name"].is_string() &&
        d["checksum"].is_string())
      out[d["name"].get<std::string>()] = d["checksum"].get<std::string>();
  return out;
}

void check_same_datasets(const std::string& option, const std::string& dir, const std::vector<RunConfig>& runs) {
  const std::string path = dir + "/manifest.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;
  const nlohmann::json m = nlohmann::json::parse(read_file_capped(path), nullptr, false);  // unparsable: the store guard's concern
  std::set<std::string> used;
  for (const auto& r : runs) used.insert(r.get("dataset"));
  for (const auto& [spec, was] : recorded_checksums(m)) {
    if (!used.count(spec)) continue;
    const std::string now = load_dataset(spec)->checksum;  // cached: the runs find it loaded
    if (now != was)
      throw ConfigError(fmt::format(
          "{}: {}'s runs were trained on dataset '{}' with checksum {}; the data now has checksum {} (its files "
          "changed since), and runs on other data would be mixed into one folder. Restore the data, or write "
          "to another {}", option, dir, spec, was, now, option));
  }
}

ManifestGrid read_manifest_grid(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw ConfigError(fmt::format("{}: no manifest (is this a sweep directory?)", path));
  ManifestGrid g;
  const std::string text = read_file_capped(path);
  try {
    g.json = nlohmann::json::parse(text);
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
