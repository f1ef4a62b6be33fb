// normlab merge DIR... --out OUT: combine shard directories of one experiment.
// Refuses directories of different experiments (grid hashes differ),
// de-duplicates runs by run_id, and exits 1 listing runs no shard has.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "cmd/subcommands.h"
#include "core/errors.h"
#include "core/out_path.h"
#include "sweep/ledger.h"
#include "sweep/manifest.h"
#include "sweep/store.h"
#include "sweep/sweep_dir.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

struct MergeOptions {
  std::vector<std::string> dirs;
  std::string out;
  bool force = false;
};

void run_merge(MergeOptions o) {
  namespace fs = std::filesystem;
  std::vector<ManifestGrid> grids;
  for (const auto& d : o.dirs) grids.push_back(read_manifest_grid(d + "/manifest.json"));
  for (std::size_t i = 1; i < grids.size(); ++i)
    if (grids[i].grid_hash != grids[0].grid_hash)
      throw ConfigError(fmt::format("merge: {} holds experiment '{}' (grid {}), {} holds '{}' (grid {}); "
                                    "only shards of one experiment can be merged",
                                    o.dirs[i], grids[i].name, grids[i].grid_hash, o.dirs[0],
                                    grids[0].name, grids[0].grid_hash));
  // Shards trained on other versions of a dataset (another machine's files) are not one sweep.
  const auto data0 = recorded_checksums(grids[0].json);
  for (std::size_t i = 1; i < grids.size(); ++i)
    for (const auto& [spec, sum] : recorded_checksums(grids[i].json))
      if (const auto it = data0.find(spec); it != data0.end() && it->second != sum)
        throw ConfigError(fmt::format("merge: {} trained on dataset '{}' with checksum {}, {} with checksum {}; "
                                      "shards trained on other data cannot be merged into one folder",
                                      o.dirs[i], spec, sum, o.dirs[0], it->second));
  check_out_spelling("--out", o.out);
  o.out = store_path(o.out);
  const StoreIdentity me = StoreIdentity::grid(StoreKind::merge, grids[0].name, grids[0].runs);
  guard_store("--out", o.out, me, o.force);
  prepare_out_dir("--out", o.out);
  const SweepDir out(o.out);
  const auto& runs = grids[0].runs;
  int copied = 0;
  // Run by run: a run's parts are taken only from a directory where they are
  // whole (sweep_dir.h), so a damaged part is never copied or assembled.
  for (const auto& r : runs) {
    const std::string id = r.run_id();
    const RunParts have = out.check_run(id);
    if (have.state == RunParts::whole) continue;  // de-duplicated by run_id
    if (have.state == RunParts::damaged) spdlog::warn("merge: run {}: not trusted: {}", id, have.problem);
    for (const auto& d : o.dirs) {
      if (fs::weakly_canonical(d) == fs::weakly_canonical(o.out) || !fs::is_directory(d + "/parts")) continue;
      const SweepDir from(d);
      const RunParts c = from.check_run(id);
      if (c.state == RunParts::damaged) spdlog::warn("merge: run {}: not used: {}", id, c.problem);
      if (c.state != RunParts::whole) continue;
      out.copy_run_from(from, id);
      ++copied;
      break;
    }
  }
  const int present = out.assemble(runs);
  auto manifest = grids[0].json;
  manifest["merged_from"] = o.dirs;
  manifest["merged_at"] = utc_now();
  manifest.update(store_fields(me));
  manifest["shards"] = nlohmann::json::array();  // each input's shard ledger (sweep/ledger.h)
  for (const auto& d : o.dirs)
    for (const auto& r : read_ledgers(d)) manifest["shards"].push_back(r);
  manifest.erase("files");  // an input's checksums describe its tables, not these
  if (present == int(runs.size())) manifest["files"] = result_checksums(o.out);
  write_file_atomic(o.out + "/manifest.json", manifest.dump(2) + "\n");
  spdlog::info("merge: {} of {} runs present in {}/ ({} runs copied)", present, runs.size(),
               o.out, copied);
  if (present < int(runs.size())) {
    std::string missing;
    int shown = 0;
    for (const auto& r : runs)
      if (out.check_run(r.run_id()).state != RunParts::whole && shown++ < 10)
        missing += " " + r.run_id();
    throw std::runtime_error(fmt::format("merge: {} run(s) missing, e.g.{}", int(runs.size()) - present, missing));
  }
}

}  // namespace

void setup_merge(CLI::App& app) {
  auto o = std::make_shared<MergeOptions>();
  auto* sub = app.add_subcommand("merge", "Combine the shard directories of one sweep");
  sub->add_option("dirs", o->dirs, "sweep directories")->required()->check(kExistingDir);
  sub->add_option("--out", o->out, "merged directory")->check(kNotEmpty)->required();
  sub->add_flag("--force", o->force, "write into --out even when it holds another experiment's or a train run's results");
  sub->callback([o] { run_merge(*o); });
}

}  // namespace normlab::cmd
