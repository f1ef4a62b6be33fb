// The sweep directory and scheduler: a run counts only once its runs part
// exists, assembly follows grid order, --fresh never deletes, resume skips
// completed runs and retries errored ones, shards partition the grid.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data_test_util.h"
#include "core/errors.h"
#include "sweep/experiment.h"
#include "sweep/scheduler.h"
#include "sweep/sweep_dir.h"

using namespace normlab;
using normlab::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string l; std::getline(is, l);) out.push_back(l);
  return out;
}

RunConfig config(const std::string& lr) {
  RunConfig c;
  c.set("dataset", "blobs:n=200,test=100,dim=8,classes=3,seed=1");
  c.set("widths", "8");
  c.set("batch-size", "32");
  c.set("lr", lr);
  return c;
}

RunResult result(const std::string& status, double acc, const std::string& message = "") {
  RunResult r;
  r.status = status;
  r.final_test_acc = acc;
  r.message = message;
  r.curve.push_back({0, 0.0, 0, "test", 1.1, acc, 0.0, 0.1, 0.0});
  return r;
}

}  // namespace

TEST_CASE("sweep: parts: a run is complete only once its runs part exists") {
  ScratchDir d("sweep-dir-parts");
  const SweepDir dir(d.str());
  const RunConfig c = config("0.1");
  const std::string id = c.run_id();
  CHECK_FALSE(dir.completed_status(id).has_value());
  // What a kill during a write leaves behind is not a completed run.
  std::ofstream(dir.parts_dir() + "/" + id + ".runs.csv.tmp") << "run_id,half\n" << id << ",GARBAGE";
  std::ofstream(dir.parts_dir() + "/" + id + ".curves.csv") << "run_id\n" << id << "\n";
  CHECK_FALSE(dir.completed_status(id).has_value());
  CHECK(dir.assemble({c}) == 0);
  CHECK(lines(slurp(d / "runs.csv")).size() == 1);  // header only
  CHECK(lines(slurp(d / "curves.csv")).size() == 1);

  // A message with commas, quotes and a newline does not confuse the status column.
  dir.write_run(c, result("diverged", 0.25, "loss \"nan\", at step 3\nsecond line"));
  REQUIRE(dir.completed_status(id).has_value());
  CHECK(*dir.completed_status(id) == "diverged");
  CHECK(dir.assemble({c}) == 1);
  const std::string runs = slurp(d / "runs.csv");
  CHECK(runs.find("\"loss \"\"nan\"\", at step 3\nsecond line\"") != std::string::npos);
  CHECK(runs.find("GARBAGE") == std::string::npos);
  for (const auto& e : fs::directory_iterator(d.str()))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);  // the assembled files were renamed into place
}

TEST_CASE("sweep: assembly follows grid order, not completion order") {
  ScratchDir d("sweep-dir-order");
  const SweepDir dir(d.str());
  const std::vector<RunConfig> grid = {config("0.1"), config("0.2"), config("0.3")};
  dir.write_run(grid[2], result("ok", 0.3));
  dir.write_run(grid[0], result("ok", 0.1));
  CHECK(dir.assemble(grid) == 2);
  auto rows = lines(slurp(d / "runs.csv"));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].rfind(grid[0].run_id(), 0) == 0);
  CHECK(rows[2].rfind(grid[2].run_id(), 0) == 0);
  dir.write_run(grid[1], result("ok", 0.2));
  CHECK(dir.assemble(grid) == 3);
  rows = lines(slurp(d / "runs.csv"));
  REQUIRE(rows.size() == 4);
  const auto curves = lines(slurp(d / "curves.csv"));
  REQUIRE(curves.size() == 4);
  for (int i = 0; i < 3; ++i) {
    CHECK(rows[i + 1].rfind(grid[i].run_id(), 0) == 0);
    CHECK(curves[i + 1].rfind(grid[i].run_id(), 0) == 0);
  }
  // Parts of runs outside the grid (an older experiment in the same directory) are left out.
  CHECK(dir.assemble({grid[1]}) == 1);
  CHECK(lines(slurp(d / "runs.csv")).size() == 2);
}

TEST_CASE("sweep: assembling the same runs again leaves the tables as they were (bytes and time)") {
  ScratchDir d("sweep-dir-reassemble");
  const SweepDir dir(d.str());
  const std::vector<RunConfig> grid = {config("0.1"), config("0.2")};
  dir.write_run(grid[0], result("ok", 0.1));
  CHECK(dir.assemble(grid) == 1);
  const std::string before = slurp(d / "runs.csv");
  const auto stamp = [&] { return fs::last_write_time(d / "runs.csv"); };
  fs::last_write_time(d / "runs.csv", stamp() - std::chrono::hours(1));  // older than any write now
  const auto old_time = stamp();
  CHECK(dir.assemble(grid) == 1);
  CHECK(stamp() == old_time);
  CHECK(slurp(d / "runs.csv") == before);
  dir.write_run(grid[1], result("ok", 0.2));  // a new run: written
  CHECK(dir.assemble(grid) == 2);
  CHECK(stamp() != old_time);
  CHECK(lines(slurp(d / "runs.csv")).size() == 3);
}

TEST_CASE("sweep: --fresh moves parts aside and never deletes them") {
  ScratchDir d("sweep-dir-fresh");
  const SweepDir dir(d.str());
  const RunConfig c = config("0.1");
  dir.write_run(c, result("ok", 0.5));
  CHECK(dir.archive_parts() == d / "parts.old-1");
  CHECK(fs::exists(d / "parts.old-1/" + c.run_id() + ".runs.csv"));
  CHECK(fs::is_empty(dir.parts_dir()));
  CHECK_FALSE(dir.completed_status(c.run_id()).has_value());
  dir.write_run(c, result("ok", 0.6));
  CHECK(dir.archive_parts() == d / "parts.old-2");
  CHECK(fs::exists(d / "parts.old-1/" + c.run_id() + ".runs.csv"));
  CHECK(fs::exists(d / "parts.old-2/" + c.run_id() + ".runs.csv"));
}

TEST_CASE("sweep: resume skips completed runs and retries errored ones") {
  ScratchDir d("sweep-dir-resume");
  const std::string path = d / "exp.toml";
  std::ofstream(path) << "dataset = \"blobs:n=200,test=100,dim=8,classes=3,seed=1\"\n"
                         "widths = [8]\nbatch_size = 32\nepochs = 1\nlr = [0.1, 0.2, 0.3]\n";
  const Experiment ex = load_experiment(path);
  REQUIRE(ex.runs.size() == 3);
  const SweepDir dir(d / "out");
  dir.write_run(ex.runs[0], result("error", 0, "boom"));
  dir.write_run(ex.runs[1], result("ok", 0.123));  // a completed run: must not be rerun
  SweepOptions so;
  so.jobs = 2;
  std::vector<std::string> reported;
  const auto s = run_sweep(ex, dir, so, [&](const SweepProgress&, const std::string& line) {
    reported.push_back(line);
  });
  CHECK(s.progress.total == 3);
  CHECK(s.progress.skipped == 1);
  CHECK(s.progress.done == 2);
  CHECK(s.progress.failed == 0);
  CHECK(s.assembled == 3);
  CHECK(reported.size() == 2);
  CHECK(*dir.completed_status(ex.runs[0].run_id()) == "ok");
  const auto rows = lines(slurp(d / "out/runs.csv"));
  REQUIRE(rows.size() == 4);
  CHECK(rows[2].find(",0.123,") != std::string::npos);
  CHECK(rows[1].find("boom") == std::string::npos);
}

TEST_CASE("sweep: shards partition the grid deterministically") {
  ScratchDir d("sweep-dir-shards");
  const std::string path = d / "exp.toml";
  std::ofstream(path) << "lr = [0.1, 0.2, 0.3, 0.4, 0.5]\nseeds = 2\n";
  const Experiment ex = load_experiment(path);
  REQUIRE(ex.runs.size() == 10);
  for (int n : {1, 2, 3, 4, 10, 13}) {
    std::multiset<std::size_t> all;
    for (int i = 0; i < n; ++i) {
      const auto mine = shard_runs(ex, i, n);
      CHECK(mine == shard_runs(ex, i, n));
      CHECK(std::is_sorted(mine.begin(), mine.end()));
      all.insert(mine.begin(), mine.end());
    }
    CAPTURE(n);
    CHECK(all.size() == 10);
    CHECK(std::set<std::size_t>(all.begin(), all.end()).size() == 10);
  }
  CHECK(parse_shard("0/2") == std::pair<int, int>{0, 2});
  CHECK(parse_shard("3/4") == std::pair<int, int>{3, 4});
  for (const char* bad : {"2/2", "-1/2", "0/0", "1", "a/b", ""}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_shard(bad), ConfigError);
  }
}
