// normlab history record|show: the regression history (history/record.h).
//   record PATH... [--history H] [--replace] [--commit C] [--date D]
//     PATH: a bench CSV (`bench --csv`) or a claims folder (`claims --out`).
//     Every input is checked first (a claims folder by every check of
//     `normlab verify`, a bench CSV by its reader), and every record's file
//     must be new unless --replace; only then is anything written, each file
//     to a temporary name and renamed.
//   show [--history H] [--case PATTERN] [--claim ID] [--plots DIR] [--threshold F] [--recent N]
//     Per series the last value, the change points (PELT, history/changepoint.h)
//     with commit, size and confidence, and the trend; with --plots a PNG per
//     series (scripts/history_plot.py). Exit 1 when a regression
//     (history/series.h) begins at one of the last N commits of the history.
#include <spdlog/spdlog.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "bench/bench_csv.h"
#include "cmd/subcommands.h"
#include "core/build_stamp.h"
#include "core/errors.h"
#include "core/share_dir.h"
#include "core/out_path.h"
#include "core/shell_quote.h"
#include "history/record.h"
#include "history/series.h"
#include "core/read_file.h"
#include "results/csv_table.h"
#include "results/report_script.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct RecordOptions {
  std::vector<std::string> inputs;
  std::string history = "results/history", commit, date;
  bool replace = false;
};

struct ShowOptions {
  std::string history = "results/history", case_pattern, claim, plots;
  double threshold = 0.05;
  int recent = 3;
};

// The commit's date from git (ISO 8601), or now when git cannot tell.
std::string commit_date(const std::string& commit) {
  const std::string cmd = "git show -s --format=%cI " + shell_quote(commit) + " 2>/dev/null";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[128];
    while (fgets(buf, sizeof buf, p)) out += buf;
    if (pclose(p) != 0) out.clear();
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.empty()) {
    spdlog::warn("history: git does not know commit {}: its records are dated now (give --date)", commit);
    return utc_now();
  }
  return out;
}

struct Pending {
  std::string path, text;
};

// Checks one input and returns the record it makes (nothing written yet).
Pending prepare(const std::string& input, const RecordOptions& o, const std::string& commit,
                const std::string& date) {
  Machine m = this_machine();
  if (fs::is_directory(input)) {
    const auto v = results_folder_violations("history record", input);
    if (!fs::exists(fs::path(input) / "claims.csv"))
      throw ConfigError(fmt::format("history record: {} is a sweep folder (allowed: a claims folder with claims.csv, "
                                    "or a bench CSV)", input));
    if (!v.empty())
      throw ConfigError(fmt::format("history record: {} fails `normlab verify` ({} violation(s), first: {}): not "
                                    "recorded", input, v.size(), v.front()));
    const auto cells = read_claim_cells((fs::path(input) / "claims.csv").string());
    return {record_path(o.history, m.id(), commit, RecordKind::claims), claims_record_text(commit, date, m, cells)};
  }
  const auto cases = read_bench_csv(input);
  for (const auto& c : cases) {
    if (c.name == "probe/triad") m.triad_gb_s = c.gb_per_s;
    if (c.name.rfind("probe/sgemm", 0) == 0) m.sgemm_gflop_s = c.gflop_per_s;
  }
  return {record_path(o.history, m.id(), commit, RecordKind::bench), bench_record_text(commit, date, m, cases)};
}

void run_record(const RecordOptions& o) {
  // The options as given first, then what the build's stamp allows (so a bad --date is named
  // the same way on a clean build and on one with uncommitted changes).
  if (o.date.size() && (o.date.size() < 10 || o.date.find_first_of(",\n\r\"") != std::string::npos))
    throw ConfigError(fmt::format("--date: '{}' (allowed: an ISO 8601 date, e.g. 2026-12-03T04:17:00Z)", o.date));
  const std::string commit = o.commit.empty() ? default_record_commit(build_stamp().git_commit) : o.commit;
  check_commit_name(o.commit.empty() ? "the build's commit (give --commit)" : "--commit", commit);
  const std::string date = o.date.empty() ? commit_date(commit) : o.date;
  std::vector<Pending> todo;
  std::set<std::string> paths;
  for (const auto& in : o.inputs) {
    Pending p = prepare(in, o, commit, date);
    if (!paths.insert(p.path).second)
      throw ConfigError(fmt::format("history record: two inputs make the same record {} (one bench CSV and one "
                                    "claims folder per commit and machine)", p.path));
    if (fs::exists(p.path) && !o.replace)
      throw ConfigError(fmt::format("history record: {} exists: commit {} on this machine is recorded already "
                                    "(allowed: --replace to record it again)", p.path, commit));
    todo.push_back(std::move(p));
  }
  for (const auto& p : todo) prepare_out_dir("--history", fs::path(p.path).parent_path().string());
  for (const auto& p : todo) {
    write_file_atomic(p.path, p.text);
    spdlog::info("history: recorded {}", p.path);
  }
}

std::string show_value(const Series& s, double v) {
  return s.kind == SeriesKind::speed ? fmt::format("{:.4g} ms", 1e3 * v) : fmt::format("{:.4g}", v);
}

// scripts/history_plot.py beside the binary (core/share_dir.h), whatever the working folder.
std::string plot_script() { return share_file("scripts/history_plot.py"); }

constexpr const char* kSeriesHeader = "series,kind,index,commit,date,value,png\n";

// A series' PNG file name: runs of characters outside [A-Za-z0-9._-] become '_',
// with none at either end ("series" if nothing is left). scripts/history_plot.py
// reads it from series.csv.
std::string png_name(const std::string& series) {
  std::string out;
  for (char c : series) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (keep) out += c;
    else if (out.empty() || out.back() != '_') out += '_';
  }
  const auto first = out.find_first_not_of('_'), last = out.find_last_not_of('_');
  return (first == std::string::npos ? std::string("series") : out.substr(first, last - first + 1)) + ".png";
}

// Each series' PNG name, unique: two names that map to one file ("norm/x", "norm_x")
// get -2, -3, ... in series order, so that no plot replaces another's.
std::vector<std::string> png_names(const std::vector<Series>& all) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const auto& s : all) {
    const std::string base = png_name(s.name), stem = base.substr(0, base.size() - 4);
    std::string name = base;
    for (int k = 2; used.count(name); ++k) name = fmt::format("{}-{}.png", stem, k);
    used.insert(name);
    names.push_back(name);
  }
  return names;
}

// --plots DIR is written only when it is missing, empty, or holds exactly files an
// earlier `history show --plots` wrote: series.csv (with this command's header),
// steps.csv and the PNGs that series.csv names. Anything else there, a user's
// file or a store's, could be replaced by a file of the same name.
void guard_plots_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw ConfigError(fmt::format("--plots: {} exists and is not a folder", dir));
  if (fs::directory_iterator(dir, ec) == fs::directory_iterator()) return;
  const auto refuse = [&](const std::string& why) {
    return ConfigError(fmt::format("--plots: {} {}; the plots would replace files of the same names. Give an empty "
                                   "or new folder, or one an earlier --plots wrote", dir, why));
  };
  // A symlink is never one of its own files: the plots would be written through it.
  const auto own_kind = [&](const fs::path& p) { return fs::symlink_status(p, ec).type() == fs::file_type::regular; };
  const std::string series = dir + "/series.csv";
  const std::string text = own_kind(series) ? read_file_capped(series) : std::string();
  if (text.rfind(kSeriesHeader, 0) != 0)
    throw refuse("holds files that `normlab history show --plots` did not write (no series.csv of its own)");
  const CsvTable t = parse_csv(text, series);
  std::set<std::string> own{"series.csv", "steps.csv"};
  for (std::size_t r = 0; r < t.rows.size(); ++r) own.insert(t.at(r, "png"));
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_symlink(ec)) throw refuse(fmt::format("holds {}, a symlink (a plot would be written through it)", name));
    if (!own.count(name) || !own_kind(e.path()))
      throw refuse(fmt::format("holds {}, which its earlier --plots did not write", name));
  }
}

// series.csv (one row per point) and steps.csv for scripts/history_plot.py.
void write_plot_data(const std::string& dir, const std::vector<Series>& all, const std::vector<SeriesSummary>& sums) {
  std::string pts = kSeriesHeader, st = "series,commit,size,confidence,regression\n";
  const std::vector<std::string> png = png_names(all);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    const char* kind = s.kind == SeriesKind::speed ? "speed" : "claim";
    for (std::size_t k = 0; k < s.points.size(); ++k)
      pts += fmt::format("{},{},{},{},{},{:.9g},{}\n", csv_field(s.name), kind, k, csv_field(s.points[k].commit),
                         csv_field(s.points[k].date), s.points[k].value, csv_field(png[i]));
    for (const auto& x : sums[i].steps)
      st += fmt::format("{},{},{:.6g},{:.6g},{}\n", csv_field(s.name), csv_field(x.commit), x.size, x.confidence,
                        x.regression ? 1 : 0);
  }
  write_file_atomic(dir + "/series.csv", pts);
  write_file_atomic(dir + "/steps.csv", st);
  if (!render_report(dir, plot_script()))
    throw std::runtime_error(fmt::format("history show: the plots in {} were not drawn (scripts/history_plot.py)", dir));
}

void run_show(const ShowOptions& o) {
  if (!(o.threshold >= 0 && o.threshold <= 100))
    throw ConfigError(fmt::format("--threshold: {} (allowed: a fraction >= 0, e.g. 0.05 for 5% slower)", o.threshold));
  if (!o.plots.empty()) {
    guard_plots_dir(o.plots);
    prepare_out_dir("--plots", o.plots);
  }
  const auto records = read_history(o.history);
  if (records.empty())
    throw ConfigError(fmt::format("--history: {} holds no records (make them with `normlab history record`)", o.history));
  const auto all = build_series(records, o.case_pattern, o.claim);
  if (all.empty())
    throw ConfigError(fmt::format("history show: no series in {} matches{}{} (allowed: a case name part, a claim id "
                                  "recorded there)", o.history,
                                  o.case_pattern.empty() ? "" : " --case '" + o.case_pattern + "'",
                                  o.claim.empty() ? "" : " --claim '" + o.claim + "'"));
  std::vector<std::string> commits;  // the history's commit order
  for (const auto& r : records)
    if (commits.empty() || commits.back() != r.commit) commits.push_back(r.commit);
  const std::set<std::string> recent(commits.end() - std::min<long>(o.recent, long(commits.size())), commits.end());
  std::vector<SeriesSummary> sums;
  std::vector<std::string> red;
  for (const auto& s : all) {
    sums.push_back(summarize(s, o.threshold, ChangePointOptions{}));
    const auto& sm = sums.back();
    std::string steps;
    for (const auto& st : sm.steps)
      steps += fmt::format("{}{} {} ({:.1f}%){}", steps.empty() ? "" : "; ", st.commit,
                           s.kind == SeriesKind::speed ? fmt::format("{:+.1f}%", 100 * st.size)
                                                       : fmt::format("{:+.4g}", st.size),
                           100 * st.confidence, st.regression ? " REGRESSION" : "");
    std::printf("%s\n  %d commits, last %s, trend %s per commit, change points: %s\n", s.name.c_str(),
                int(s.points.size()), show_value(s, sm.last).c_str(),
                s.kind == SeriesKind::speed ? fmt::format("{:+.2f}%", 100 * sm.trend).c_str()
                                            : fmt::format("{:+.3g}", sm.trend).c_str(),
                steps.empty() ? "none" : steps.c_str());
    for (const auto& line : sm.regressions) {
      std::printf("  regression: %s\n", line.c_str());
      const std::string c = line.substr(7, line.find(':') - 7);
      if (recent.count(c)) red.push_back(line);
    }
  }
  if (!o.plots.empty()) write_plot_data(o.plots, all, sums);
  if (!red.empty()) {
    std::string msg;
    for (const auto& l : red) msg += "\n  " + l;
    throw std::runtime_error(fmt::format("history: {} regression(s) in the last {} commit(s):{}", red.size(),
                                         recent.size(), msg));
  }
}

}  // namespace

void setup_history(CLI::App& app) {
  auto* sub = app.add_subcommand("history", "Regression history of benchmarks and claim cells");
  sub->require_subcommand(1);
  auto r = std::make_shared<RecordOptions>();
  auto* rec = sub->add_subcommand("record", "Append a bench CSV and/or a claims folder to the history");
  rec->add_option("inputs", r->inputs, "bench CSVs (`bench --csv`) and claims folders (`claims --out`)")
      ->required()
      ->check(CLI::ExistingPath);
  rec->add_option("--history", r->history, "history folder")->capture_default_str()->check(kNotEmpty);
  rec->add_flag("--replace", r->replace, "replace a record of the same commit, machine and kind");
  rec->add_option("--commit", r->commit, "commit the results belong to [default: this binary's]");
  rec->add_option("--date", r->date, "the commit's date, ISO 8601 [default: from git]");
  rec->callback([r] { run_record(*r); });
  auto s = std::make_shared<ShowOptions>();
  auto* show = sub->add_subcommand("show", "Per series: last value, change points, trend (exit 1 on a new regression)");
  show->add_option("--history", s->history, "history folder")->capture_default_str();
  show->add_option("--case", s->case_pattern, "speed series whose case name contains this");
  show->add_option("--claim", s->claim, "claim cells of this claim id");
  show->add_option("--plots", s->plots, "write a PNG per series here")->check(kNotEmpty);
  show->add_option("--threshold", s->threshold, "a speed step slower by more than this fraction is a regression")
      ->capture_default_str();
  show->add_option("--recent", s->recent, "exit 1 for regressions beginning at one of the last N commits")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  show->callback([s] { run_show(*s); });
}

}  // namespace normlab::cmd
