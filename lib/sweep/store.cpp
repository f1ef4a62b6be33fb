// Results stores: kind and identity in manifest.json, the one guard every
// writer calls, and store-file paths (contract in store.h).
#include "sweep/store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

#include "core/errors.h"
#include "core/read_file.h"
#include "core/sha256.h"
#include "sweep/grid_change.h"

namespace normlab {

namespace fs = std::filesystem;

const char* to_string(StoreKind k) {
  switch (k) {
    case StoreKind::train: return "train";
    case StoreKind::sweep: return "sweep";
    case StoreKind::merge: return "merge";
    case StoreKind::claim: return "claim";
    case StoreKind::claims: return "claims";
  }
  return "?";
}

StoreIdentity StoreIdentity::grid(StoreKind kind, std::string name, std::vector<RunConfig> runs) {
  StoreIdentity id;
  id.kind = kind;
  id.name = std::move(name);
  id.runs = std::move(runs);
  return id;
}

StoreIdentity StoreIdentity::train_run(std::string run_id) {
  StoreIdentity id;
  id.kind = StoreKind::train;
  id.run_id = std::move(run_id);
  return id;
}

StoreIdentity StoreIdentity::claims_of(std::string profile) {
  StoreIdentity id;
  id.kind = StoreKind::claims;
  id.profile = std::move(profile);
  return id;
}

namespace {

std::optional<StoreKind> kind_named(const std::string& s) {
  for (StoreKind k : {StoreKind::train, StoreKind::sweep, StoreKind::merge, StoreKind::claim, StoreKind::claims})
    if (s == to_string(k)) return k;
  return std::nullopt;
}

bool grid_kind(StoreKind k) { return k == StoreKind::sweep || k == StoreKind::merge || k == StoreKind::claim; }

// What a folder holds, as far as a writer needs to know.
struct Held {
  bool results = false;           // anything a writer would overwrite
  std::optional<StoreIdentity> id;
  std::string unknown;            // why its origin is unknown, when it is
};

StoreIdentity identity_of(const nlohmann::json& m, const fs::path& manifest) {
  StoreIdentity id;
  const std::string command = m.value("kind", m.value("command", ""));
  const auto k = kind_named(command);
  if (!k) throw ConfigError(fmt::format("{}: kind '{}' is not a results store's", manifest.string(), command));
  id.kind = *k;
  if (!m.contains("kind") && m.contains("merged_from")) id.kind = StoreKind::merge;
  if (id.kind == StoreKind::train) id.run_id = m.at("run_id").get<std::string>();
  if (id.kind == StoreKind::claims) id.profile = m.at("identity").at("profile").get<std::string>();
  if (grid_kind(id.kind)) {
    id.name = m.at("experiment").at("name").get<std::string>();
    for (const auto& r : m.at("runs")) {
      RunConfig cfg;
      for (const auto& [key, v] : r.at("config").items()) cfg.set(key, v.get<std::string>());
      id.runs.push_back(std::move(cfg));
    }
  }
  return id;
}

Held read_held(const fs::path& dir) {
  Held h;
  const fs::path manifest = dir / "manifest.json";
  std::error_code ec;
  if (fs::exists(manifest, ec)) {
    h.results = true;
    try {
      h.id = identity_of(nlohmann::json::parse(read_file_capped(manifest)), manifest);
    } catch (const std::exception& e) {
      h.unknown = fmt::format("a manifest.json that cannot be read ({})", e.what());
    }
    return h;
  }
  if (fs::exists(dir / "claims.csv", ec)) {  // claims folders written before they had a manifest
    h.results = true;
    h.id = StoreIdentity::claims_of("");
    return h;
  }
  if (fs::exists(dir / "runs.csv", ec)) {
    h.results = true;
    h.unknown = "a runs.csv without a manifest.json (results of unknown origin)";
  } else if (fs::is_directory(dir / "parts", ec)) {
    h.results = true;  // a first sweep killed before its manifest: a grid store of unknown name
    h.id = StoreIdentity::grid(StoreKind::sweep, "");
  }
  return h;
}

std::string describe(const StoreIdentity& id) {
  switch (id.kind) {
    case StoreKind::train: return fmt::format("the results of a `train` run (run_id {})", id.run_id);
    case StoreKind::claims: return fmt::format("claim verdicts (claims.csv{})", id.profile.empty() ? "" : ", profile " + id.profile);
    default: return fmt::format("the {} of experiment '{}'", to_string(id.kind), id.name);
  }
}

// Why `me` may not write over `held`; "" when it may.
std::string mismatch(const StoreIdentity& held, const StoreIdentity& me) {
  if (grid_kind(held.kind) != grid_kind(me.kind) || (!grid_kind(me.kind) && held.kind != me.kind))
    return "a folder of another kind";
  switch (me.kind) {
    case StoreKind::train: return held.run_id == me.run_id ? "" : "another run";
    case StoreKind::claims:
      return held.profile.empty() || held.profile == me.profile ? "" : "claims of another profile";
    default: break;
  }
  if (held.name.empty() && held.runs.empty()) return "";  // parts only: a first sweep killed early
  if (held.name != me.name) return "another experiment";
  const GridChange gc = compare_grids(held.runs, me.runs);
  return gc.fixed_changed.empty() ? ""
                                  : fmt::format("other fixed settings ({})", fmt::join(gc.fixed_changed, "; "));
}

}  // namespace

std::string store_path(const std::string& path) {
  if (path.empty()) return path;
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p.empty() ? "." : p.string();
}

std::string fixed_hash(const std::vector<RunConfig>& runs) {
  std::string text;
  for (const auto& k : run_keys()) {
    if (!k.identity || runs.empty()) continue;
    const std::string& v = runs[0].get(k.name);
    if (!k.fixed_at_default && v == k.def) continue;  // a later key at its default: as before it existed
    if (std::all_of(runs.begin(), runs.end(), [&](const RunConfig& r) { return r.get(k.name) == v; }))
      text += fmt::format("{}={}\n", k.name, v);
  }
  return sha256_hex(text).substr(0, 16);
}

nlohmann::json store_fields(const StoreIdentity& id) {
  nlohmann::json ident;
  switch (id.kind) {
    case StoreKind::train: ident = {{"run_id", id.run_id}}; break;
    case StoreKind::claims: ident = {{"profile", id.profile}}; break;
    default: ident = {{"experiment", id.name}, {"fixed_hash", fixed_hash(id.runs)}}; break;
  }
  return {{"kind", to_string(id.kind)}, {"identity", ident}};
}

void guard_store(const std::string& option, const std::string& dir, const StoreIdentity& me, bool force,
                 bool offers_force) {
  if (force) return;
  const Held h = read_held(fs::path(store_path(dir)));
  if (!h.results) return;
  const std::string what = h.id ? describe(*h.id) : h.unknown;
  const std::string why = h.id ? mismatch(*h.id, me) : "results of unknown origin";
  if (why.empty()) return;
  const std::string mine = me.kind == StoreKind::train  ? fmt::format("a `train` run ({})", me.run_id)
                           : me.kind == StoreKind::claims ? std::string("`claims`")
                                                          : fmt::format("a {} of '{}'", to_string(me.kind), me.name);
  throw ConfigError(fmt::format("{}: {} already holds {} ({}); {} would replace its CSVs and manifest.json. Choose "
                                "another {}{}", option, dir, what, why, mine, option,
                                offers_force ? ", or pass --force to write there anyway" : ""));
}

void guard_store_file(const std::string& option, const std::string& file, const std::string& out) {
  static const std::vector<std::string> own = {"runs.csv",  "curves.csv", "activations.csv", "batchstats.csv",
                                               "timings.csv", "manifest.json", "claims.csv", "claims.md"};
  std::error_code ec;
  const fs::path f = fs::weakly_canonical(fs::path(file), ec);
  if (ec) return;  // check_out_file reports paths that cannot be resolved
  const fs::path parent = f.parent_path();
  const fs::path out_dir = out.empty() ? fs::path() : fs::weakly_canonical(fs::path(out), ec);
  const auto is_store = [&](const fs::path& d) {
    std::error_code e;
    return (!out_dir.empty() && d == out_dir) || read_held(d).results || fs::exists(d / "ledger", e);
  };
  const std::string name = f.filename().string();
  const bool own_file = std::find(own.begin(), own.end(), name) != own.end() && is_store(parent);
  const std::string sub = parent.filename().string();
  const bool inside = (sub == "parts" || sub == "ledger") && is_store(parent.parent_path());
  if (own_file || inside)
    throw ConfigError(fmt::format("{}: {} is one of the results folder {}'s own files; writing it would "
                                  "destroy its results. Choose a file outside it, or another name",
                                  option, file, (own_file ? parent : parent.parent_path()).string()));
}

void check_store_name(const std::string& where, const std::string& key, const std::string& name) {
  const bool plain = !name.empty() && name.find("..") == std::string::npos && name[0] != '.' &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                              c == '+';
                     });
  if (!plain)
    throw ConfigError(fmt::format("{}: {}: '{}' (allowed: letters, digits, '-', '_', '+' and '.', not starting "
                                  "with '.' and without '..' or '/': it names a folder of the output directory)",
                                  where, key, name));
}

namespace {
const std::vector<std::string> kResultTables = {"runs.csv", "curves.csv", "activations.csv", "batchstats.csv",
                                                "timings.csv"};
const std::vector<std::string> kSummaryTables = {"claims.csv", "claims.md"};

nlohmann::json checksums(const std::string& dir, const std::vector<std::string>& tables) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& f : tables)
    if (fs::is_regular_file(fs::path(dir) / f)) files[f] = sha256_file((fs::path(dir) / f).string());
  return files;
}

std::vector<std::string> check_checksums(const std::string& dir, const nlohmann::json& manifest,
                                         const std::vector<std::string>& tables, bool required) {
  std::vector<std::string> problems;
  const bool has = manifest.is_object() && manifest.contains("files") && manifest["files"].is_object();
  if (!has && required)
    problems.push_back(fmt::format("{}: records no checksums of its tables (\"files\"): written by an older normlab "
                                   "or unfinished, so an edit to them cannot be found; run it again to record them",
                                   (fs::path(dir) / "manifest.json").string()));
  if (!has) return problems;
  const nlohmann::json& want = manifest["files"];
  const nlohmann::json got = checksums(dir, tables);
  for (const auto& f : tables) {
    const std::string path = (fs::path(dir) / f).string();
    if (!want.contains(f) && got.contains(f))
      problems.push_back(fmt::format("{}: not recorded in manifest.json's files (added after the results were written)", path));
    else if (want.contains(f) && !got.contains(f))
      problems.push_back(fmt::format("{}: recorded in manifest.json's files, but missing", path));
    else if (want.contains(f) && (!want[f].is_string() || want[f].get<std::string>() != got[f].get<std::string>()))
      problems.push_back(fmt::format("{}: its SHA-256 is not the one manifest.json records: changed after it was "
                                     "written", path));
  }
  return problems;
}
}  // namespace

nlohmann::json result_checksums(const std::string& dir) { return checksums(dir, kResultTables); }

std::vector<std::string> check_result_checksums(const std::string& dir, const nlohmann::json& manifest,
                                                bool required) {
  return check_checksums(dir, manifest, kResultTables, required);
}

nlohmann::json summary_checksums(const std::string& dir) { return checksums(dir, kSummaryTables); }

std::vector<std::string> check_summary_checksums(const std::string& dir, const nlohmann::json& manifest,
                                                 bool required) {
  return check_checksums(dir, manifest, kSummaryTables, required);
}

}  // namespace normlab
