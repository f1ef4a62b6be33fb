// normlab merge DIR... --out OUT: combine shard directories of one experiment.
// Refuses directories of different experiments (grid hashes differ),
// de-duplicates runs by run_id, and exits 1 listing runs no shard has.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "cmd/subcommands.h"
#include "core/errors.h"
#include "sweep/ledger.h"
#include "sweep/manifest.h"
#include "sweep/sweep_dir.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

struct MergeOptions {
  std::vector<std::string> dirs;
  std::string out;
};

void run_merge(const MergeOptions& o) {
  namespace fs = std::filesystem;
  std::vector<ManifestGrid> grids;
  for (const auto& d : o.dirs) grids.push_back(read_manifest_grid(d + "/manifest.json"));
  for (std::size_t i = 1; i < grids.size(); ++i)
    if (grids[i].grid_hash != grids[0].grid_hash)
      throw ConfigError(fmt::format("merge: {} holds experiment '{}' (grid {}), {} holds '{}' (grid {}); "
                                    "only shards of one experiment can be merged",
                                    o.dirs[i], grids[i].name, grids[i].grid_hash, o.dirs[0],
                                    grids[0].name, grids[0].grid_hash));
  const SweepDir out(o.out);
  int copied = 0;
  for (const auto& d : o.dirs) {
    if (fs::weakly_canonical(d) == fs::weakly_canonical(o.out)) continue;
    for (const auto& e : fs::directory_iterator(d + "/parts")) {
      const std::string name = e.path().filename().string();
      if (name.size() < 4 || name.substr(name.size() - 4) != ".csv") continue;  // skip .tmp
      const fs::path dst = fs::path(out.parts_dir()) / name;
      if (fs::exists(dst)) continue;  // de-duplicated by run_id
      fs::copy_file(e.path(), fs::path(out.parts_dir()) / (name + ".tmp"));
      fs::rename(fs::path(out.parts_dir()) / (name + ".tmp"), dst);
      ++copied;
    }
  }
  const auto& runs = grids[0].runs;
  const int present = out.assemble(runs);
  auto manifest = grids[0].json;
  manifest["merged_from"] = o.dirs;
  manifest["merged_at"] = utc_now();
  manifest["shards"] = nlohmann::json::array();  // each input's shard ledger (sweep/ledger.h)
  for (const auto& d : o.dirs)
    for (const auto& r : read_ledgers(d)) manifest["shards"].push_back(r);
  write_file_atomic(o.out + "/manifest.json", manifest.dump(2) + "\n");
  spdlog::info("merge: {} of {} runs present in {}/ ({} part files copied)", present, runs.size(),
               o.out, copied);
  if (present < int(runs.size())) {
    std::string missing;
    int shown = 0;
    for (const auto& r : runs)
      if (!fs::exists(out.parts_dir() + "/" + r.run_id() + ".runs.csv") && shown++ < 10)
        missing += " " + r.run_id();
    throw std::runtime_error(fmt::format("merge: {} run(s) missing, e.g.{}", int(runs.size()) - present, missing));
  }
}

}  // namespace

void setup_merge(CLI::App& app) {
  auto o = std::make_shared<MergeOptions>();
  auto* sub = app.add_subcommand("merge", "Combine the shard directories of one sweep");
  sub->add_option("dirs", o->dirs, "sweep directories")->required()->check(CLI::ExistingDirectory);
  sub->add_option("--out", o->out, "merged directory")->required();
  sub->callback([o] { run_merge(*o); });
}

}  // namespace normlab::cmd
