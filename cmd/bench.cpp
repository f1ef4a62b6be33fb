// normlab bench: timings of norm kernels, layers and whole training steps,
// with the machine's memory bandwidth (triad) and sgemm rate as yardsticks.
// --repeats R times every case R times in rounds (every case once per round,
// so slow drift of the machine hits all cases alike); the CSV keeps each
// round's median (bench/bench_csv.h).
// --compare BASELINE (a bench CSV or a history folder) and --baseline-binary B
// run the noise-aware gate (bench/gate.h): a case fails only when its slowdown
// is statistically clear (one-sided Mann-Whitney on the repeats, or the
// history's own spread on this machine, Holm-corrected over the cases at
// --alpha) AND the ratio of medians exceeds 1 + --tolerance. Single-valued
// baselines (CSVs from before --repeats) fall back to the ratio alone. A
// flagged case is timed again and fails only if that timing flags it too.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <sys/wait.h>

#include "bench/bench_csv.h"
#include "bench/cases.h"
#include "bench/gate.h"
#include "cmd/subcommands.h"
#include "cmd/test_faults.h"
#include "core/build_stamp.h"
#include "core/errors.h"
#include "core/out_path.h"
#include "core/shell_quote.h"
#include "core/temp_name.h"
#include "history/record.h"
#include "results/run_files.h"
#include "sweep/store.h"
#include "tensor/gemm.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct BenchOptions {
  std::string suite = "all";
  int threads = 1;
  std::string csv, compare, filter, baseline_binary;
  double tolerance = 0.25;
  double min_time = 0.3;
  int repeats = 1;
  double alpha = 0.05;
  int min_history = 5;
  bool retiming = false;  // set by the gate: flagged cases timed again to confirm
};

// A case over all --repeats rounds: the median of each round.
struct Timed : BenchRow {
  std::vector<double> repeats_s;
};

// The machine's probe rates among the rows (0 when a probe was not run).
struct ProbeRates {
  double triad_gb_s = 0, sgemm_gflop_s = 0;
};
ProbeRates probe_rates(const std::vector<Timed>& rows) {
  ProbeRates p;
  for (const auto& r : rows) {
    if (r.name == "probe/triad") p.triad_gb_s = r.gb_per_s();
    if (r.name.rfind("probe/sgemm", 0) == 0) p.sgemm_gflop_s = r.gflop_per_s();
  }
  return p;
}

// What each column of the table and the CSV means; `bench --help` prints it
// and docs/bench.md repeats it (a test checks both name every column).
constexpr const char* kColumns =
    "Columns (table; the CSV's name in brackets):\n"
    "  median ms [median_s]   median time of one call, after 3 warm-up calls\n"
    "  min-max ms [min_s, max_s]  fastest and slowest call\n"
    "  runs [repeats]         timed calls: at least 10 and at least --min-time seconds\n"
    "  samples/s [samples_per_s]  batch size / median time (layers and steps)\n"
    "  GB/s [gb_per_s]        the bytes a call must move at least / median time\n"
    "  GFLOP/s [gflop_per_s]  the call's GEMM work (2*m*n*k per product) / median time\n"
    "  %triad                 GB/s as a percentage of probe/triad's (this machine's memory bandwidth)\n"
    "  %sgemm                 GFLOP/s as a percentage of probe/sgemm's: GEMM work over the whole call's time\n"
    "  xbound [bound_s, x_bound]  steps only: the roofline lower bound (counted FLOPs at probe/sgemm's rate\n"
    "                         plus counted bytes at probe/triad's) and the median as a multiple of it\n"
    "  [repeats_s]            CSV only: the median of each --repeats round (the speed gate tests these)\n"
    "  gemm% [gemm_part_gflop_per_s]  steps only: the GEMM part's own rate (GEMM work over the time spent\n"
    "                         inside gemm) as a percentage of probe/sgemm's; it can pass 100 when a step's\n"
    "                         products are shapes OpenBLAS runs faster than the probe's 512x784x128\n"
    "Probes (always run first): probe/triad a[i] = b[i] + s*c[i] over 3 x 128 MiB;\n"
    "probe/sgemm-512x784x128 one float32 matrix product.";

// bound_s: the roofline lower bound (BenchRow::bound_s, 0 when not a step);
// x_bound: median_s / bound_s, how far the case is from what this machine can do.
constexpr const char* kCsvHeader =
    "suite,name,median_s,min_s,samples_per_s,gb_per_s,gflop_per_s,gemm_part_gflop_per_s,bound_s,x_bound,"
    "max_s,repeats,repeats_s\n";
constexpr const char* kMarkdownTitle = "# normlab bench\n";

std::string csv_text(const std::vector<Timed>& rows) {
  const ProbeRates p = probe_rates(rows);
  std::string s = kCsvHeader;
  for (const auto& r : rows) {
    std::string reps;
    for (double v : r.repeats_s) {
      if (!reps.empty()) reps += ';';
      reps += fmt::format("{:.6g}", v);
    }
    const double b = r.bound_s(p.sgemm_gflop_s, p.triad_gb_s);
    s += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{:.4g},{:.4g},{:.4g},{:.4g},{:.3g},{:.6g},{},{}\n", r.suite,
                     r.name, r.median_s, r.min_s, r.samples_per_s(), r.gb_per_s(), r.gflop_per_s(),
                     r.gemm_gflop_per_s(), b, b > 0 ? r.median_s / b : 0.0, r.max_s, r.repeats, reps);
  }
  return s;
}

// One printed row: case, median ms, min-max ms, runs, samples/s, GB/s, GFLOP/s, %triad, %sgemm, gemm%, xbound.
struct TableRow {
  std::vector<std::string> cells;
};

std::vector<TableRow> table_rows(const std::vector<Timed>& rows, double triad, double sgemm) {
  auto pct = [](bool show, double v) { return show ? fmt::format("{:.0f}", v) : std::string(); };
  std::vector<TableRow> out;
  for (const auto& r : rows)
    out.push_back({{r.name, fmt::format("{:.4g}", r.median_s * 1e3),
                    fmt::format("{:.4g}-{:.4g}", r.min_s * 1e3, r.max_s * 1e3), fmt::format("{}", r.repeats),
                    fmt::format("{:.0f}", r.samples_per_s()), fmt::format("{:.2f}", r.gb_per_s()),
                    fmt::format("{:.2f}", r.gflop_per_s()),
                    pct(r.bytes > 0 && r.name != "probe/triad", 100 * r.gb_per_s() / triad),
                    pct(r.flops > 0 && r.name.rfind("probe/", 0) != 0, 100 * r.gflop_per_s() / sgemm),
                    pct(r.gemm_s > 0, 100 * r.gemm_gflop_per_s() / sgemm),
                    r.bound_s(sgemm, triad) > 0 ? fmt::format("{:.1f}", r.median_s / r.bound_s(sgemm, triad)) : ""}});
  return out;
}

// X.csv -> X.md: the CSV's companion Markdown.
std::string markdown_path(const std::string& csv) {
  return std::filesystem::path(csv).replace_extension(".md").string();
}

std::string markdown_text(const std::vector<TableRow>& table) {
  std::string s = std::string(kMarkdownTitle) + "\n| case | median ms | min-max ms | runs | samples/s | GB/s | GFLOP/s | %triad | "
                  "%sgemm | gemm% | xbound |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& t : table) s += fmt::format("| {} |\n", fmt::join(t.cells, " | "));
  return s + "\n```\n" + kColumns + "\n```\n";
}

// --csv FILE.csv and its companion FILE.md, before anything is timed: each may
// replace only a file bench wrote (one that opens with bench's first line), never
// a store's own file or anything else already there.
void check_csv_outputs(const std::string& csv) {
  if (std::filesystem::path(csv).extension() != ".csv")
    throw ConfigError(fmt::format("--csv: '{}' does not end in .csv (allowed: FILE.csv; bench writes its Markdown "
                                  "table beside it as FILE.md)", csv));
  for (const auto& [path, head] : {std::pair<std::string, std::string>{csv, kCsvHeader},
                                   std::pair<std::string, std::string>{markdown_path(csv), kMarkdownTitle}}) {
    check_out_file("--csv", path, false);
    guard_store_file("--csv", path, "");
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    std::ifstream in(path, std::ios::binary);  // bounded: the header's bytes
    std::string first(head.size(), '\0');
    if (!in.read(first.data(), std::streamsize(first.size())) || first != head)
      throw ConfigError(fmt::format("--csv: {} exists and was not written by `normlab bench` (its first line is not "
                                    "bench's '{}'); bench replaces only its own files. Choose another name, or "
                                    "remove it", path, head.substr(0, head.find_first_of(",\n"))));
  }
}

void check_options(const BenchOptions& o) {
  // Checked before anything is timed; NaN fails every comparison, so it is caught too.
  if (!(o.min_time > 0 && o.min_time <= 3600))
    throw ConfigError(fmt::format("--min-time: {} (allowed: seconds of timing per case, > 0 and <= 3600)", o.min_time));
  if (!(o.tolerance >= 0 && o.tolerance <= 100))
    throw ConfigError(fmt::format("--tolerance: {} (allowed: a fraction >= 0 and <= 100, e.g. 0.25 for 25% slower)",
                                  o.tolerance));
  if (!(o.alpha > 0 && o.alpha < 1))
    throw ConfigError(fmt::format("--alpha: {} (allowed: a false-alarm rate > 0 and < 1, e.g. 0.05)", o.alpha));
  if (o.suite != "all") {
    bool ok = false;
    for (const auto& s : bench_suites()) ok = ok || s == o.suite;
    if (!ok) throw ConfigError(fmt::format("--suite: unknown '{}' (allowed: all, probe, norm, layers, step)", o.suite));
  }
  if (!o.baseline_binary.empty() && !o.compare.empty())
    throw ConfigError("--baseline-binary and --compare: give one (a binary to time beside this one, or a baseline "
                      "CSV or history folder)");
  if (!o.baseline_binary.empty() && o.repeats < 3)
    throw ConfigError(fmt::format("--baseline-binary needs --repeats >= 3 (given {}): the gate tests repeats",
                                  o.repeats));
  // The output too: minutes of timing must not end in "cannot write", or in a file lost.
  if (!o.csv.empty()) check_csv_outputs(o.csv);
}

// The baseline to compare with: repeats per case, and how to scale them.
struct Baseline {
  std::string what;                                    // for messages
  std::map<std::string, std::vector<double>> repeats;  // case -> times
  std::map<std::string, std::vector<double>> history;  // case -> per-commit medians (history-spread test)
  double scale = 0;  // > 0: baseline machine's probe scale (times are compared relative to the probes)
};

std::vector<BenchCase> as_cases(const std::vector<std::pair<std::string, std::vector<double>>>& reps) {
  std::vector<BenchCase> out;
  for (const auto& [n, r] : reps) out.push_back({"", n, median_of(r), r, 0, 0});
  return out;
}

// From a history folder: this machine's last records (own spread), else the
// newest record of another machine, scaled by the probes.
Baseline history_baseline(const std::string& dir, int min_history) {
  const std::string me = this_machine().id(), now = build_stamp().git_commit;
  std::vector<Record> mine, other;
  for (auto& r : read_history(dir))
    if (r.kind == RecordKind::bench && r.commit != now) (r.machine == me ? mine : other).push_back(std::move(r));
  Baseline b;
  if (int(mine.size()) >= min_history) {
    const std::size_t from = mine.size() > 10 ? mine.size() - 10 : 0;  // the last 10 commits
    for (std::size_t i = from; i < mine.size(); ++i)
      for (const auto& [n, reps] : mine[i].cases) b.history[n].push_back(median_of(reps));
    for (auto it = b.history.begin(); it != b.history.end();)
      it = it->second.size() >= 3 ? std::next(it) : b.history.erase(it);
    b.what = fmt::format("{} (the spread of the last {} commits on this machine, {})", dir, mine.size() - from, me);
    return b;
  }
  const bool same = !mine.empty();
  if (!same && other.empty()) return b;
  const Record& r = same ? mine.back() : other.back();
  for (const auto& [n, reps] : r.cases) b.repeats[n] = reps;
  if (!same) b.scale = probe_scale(as_cases(r.cases));
  b.what = fmt::format("{}: commit {} on {} machine {}", dir, r.commit, same ? "this" : "another", r.machine);
  return b;
}

Baseline load_baseline(const BenchOptions& o) {
  Baseline b;
  if (o.compare.empty()) return b;
  if (fs::is_directory(o.compare)) return history_baseline(o.compare, o.min_history);
  const auto cases = read_bench_csv(o.compare);
  for (const auto& c : cases) b.repeats[c.name] = c.repeats_s;
  b.scale = probe_scale(cases);  // machine unknown: always relative to the probes
  b.what = o.compare;
  return b;
}

// One round of BINARY in a child process: its cases as written to its CSV.
// The baseline runs without the test hook's slowdown; this binary keeps it.
// The child times every case in kChildRounds rounds and reports their
// median: one child's timing of a case lasts milliseconds, and a burst of
// load from outside the process during them must not decide the round (on a
// shared 2-core VM, norm/bn-fwd/128x1024 ran 45% to 100% slower in about one
// process in three while the machine was busy; within a process, three
// independently allocated buffer sets timed alike, so it is the machine's
// load, not where the buffers lie).
constexpr int kChildRounds = 3;
std::vector<BenchCase> child_round(const std::string& binary, bool baseline, const BenchOptions& o) {
  // A name of its own that ends in .csv, as --csv requires; the child writes its table beside it (.md).
  const std::string tmp = temp_path_for((fs::temp_directory_path() / "normlab-interleaved-bench").string()) + ".csv";
  struct Remove {
    std::string csv;
    ~Remove() {
      std::error_code ec;
      fs::remove(csv, ec);
      fs::remove(markdown_path(csv), ec);
    }
  } remove_after{tmp};
  const bool hook_off = baseline || (o.retiming && bench_slowdown().first_timing_only);
  const std::string cmd = (hook_off ? "env -u NORMLAB_BENCH_SLOWDOWN " : "") + shell_quote(binary) +
                          " bench --suite " + shell_quote(o.suite) +
                          fmt::format(" --threads {} --min-time {} --repeats {}", o.threads, o.min_time,
                                      kChildRounds) +
                          (o.filter.empty() ? "" : " --filter " + shell_quote(o.filter)) + " --csv " +
                          shell_quote(tmp) + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    throw std::runtime_error(fmt::format("{}: its bench run failed (exit {}; it is run as `{}`, which needs a "
                                         "normlab that has bench --repeats and --filter)",
                                         binary, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, cmd));
  }
  return read_bench_csv(tmp);
}

// --baseline-binary: every round is two fresh processes, baseline and this
// binary, in alternating order, so the repeats of both carry the same
// process-to-process noise and the same drift of the machine.
std::vector<Timed> interleaved_rounds(const BenchOptions& o, Baseline* b) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<Timed> rows;
  for (int r = 0; r < o.repeats; ++r) {
    std::vector<BenchCase> base, mine;
    if (r % 2 == 0) base = child_round(o.baseline_binary, true, o), mine = child_round(self, false, o);
    else mine = child_round(self, false, o), base = child_round(o.baseline_binary, true, o);
    for (const auto& c : base) b->repeats[c.name].push_back(c.median_s);
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const auto& c = mine[i];
      if (r == 0) {
        Timed t;
        t.suite = c.suite, t.name = c.name, t.min_s = c.min_s;
        t.items = c.samples_per_s * c.median_s, t.bytes = c.gb_per_s * 1e9 * c.median_s;
        t.flops = c.gflop_per_s * 1e9 * c.median_s;
        rows.push_back(t);
      }
      if (i < rows.size() && rows[i].name == c.name) {
        rows[i].repeats_s.push_back(c.median_s);
        rows[i].min_s = std::min(rows[i].min_s, c.min_s);
        rows[i].max_s = std::max(rows[i].max_s, c.median_s);  // the child's CSV gives no slowest call
        rows[i].repeats += 1;                                   // runs: one child round each
      }
    }
  }
  for (auto& row : rows) row.median_s = median_of(row.repeats_s);
  b->what = fmt::format("{} (interleaved, {} rounds of one process each)", o.baseline_binary, o.repeats);
  return rows;
}

// One round of this binary: every selected case, then (first round only: the
// probes allocate and fill 384 MiB) the probes.
std::vector<BenchRow> own_round(const BenchOptions& o, const TimingOptions& t, bool probes) {
  std::vector<BenchRow> cases;
  for (const auto& s : bench_suites())
    if (s != "probe" && (o.suite == "all" || o.suite == s))
      for (auto& r : run_bench(s, t, o.filter)) cases.push_back(r);
  // Nothing was timed when nothing matched: refused before the probes too.
  if (!o.filter.empty() && cases.empty())
    throw ConfigError(fmt::format("--filter: '{}' matches no case of --suite {} (case names are listed by "
                                  "`normlab bench --suite {}`; the probes take no filter)",
                                  o.filter, o.suite, o.suite == "probe" ? "all" : o.suite));
  std::vector<BenchRow> rows = probes ? run_bench("probe", t) : std::vector<BenchRow>{};  // listed first
  rows.insert(rows.end(), cases.begin(), cases.end());
  return rows;
}

// All rounds in this process.
std::vector<Timed> time_rounds(const BenchOptions& o) {
  TimingOptions t;
  t.min_total_s = o.min_time;
  const BenchSlowdown slow = bench_slowdown();
  t.slow_case = slow.case_name;
  t.slowdown = o.retiming && slow.first_timing_only ? 0 : slow.fraction;
  std::vector<Timed> rows;
  for (int r = 0; r < o.repeats; ++r) {
    const auto round = own_round(o, t, r == 0);
    if (r == 0)
      for (const auto& x : round) rows.push_back({x, {}});
    const std::size_t skip = rows.size() - round.size();  // the probes, timed in round 0 only
    for (std::size_t i = 0; i < round.size(); ++i) {
      rows[skip + i].repeats_s.push_back(round[i].median_s);
      rows[skip + i].min_s = std::min(rows[skip + i].min_s, round[i].min_s);
      if (r > 0) {  // min-max and the count of timed calls over every round
        rows[skip + i].max_s = std::max(rows[skip + i].max_s, round[i].max_s);
        rows[skip + i].repeats += round[i].repeats;
      }
    }
  }
  for (auto& row : rows) row.median_s = median_of(row.repeats_s);
  return rows;
}

void print_rows(const std::vector<Timed>& rows) {
  const ProbeRates p = probe_rates(rows);
  // Columns: kColumns. Times as hyperfine gives them: median, min-max, runs.
  const std::vector<TableRow> table = table_rows(rows, p.triad_gb_s, p.sgemm_gflop_s);
  std::printf("%-36s %10s %19s %5s %12s %8s %9s %7s %7s %7s %7s\n", "case", "median ms", "min-max ms", "runs",
              "samples/s", "GB/s", "GFLOP/s", "%triad", "%sgemm", "gemm%", "xbound");
  for (const auto& t : table) {
    const auto& c = t.cells;
    std::printf("%-36s %10s %19s %5s %12s %8s %9s %7s %7s %7s %7s\n", c[0].c_str(), c[1].c_str(), c[2].c_str(),
                c[3].c_str(), c[4].c_str(), c[5].c_str(), c[6].c_str(), c[7].c_str(), c[8].c_str(), c[9].c_str(),
                c[10].c_str());
  }
}

std::string method_name(GateMethod m) {
  switch (m) {
    case GateMethod::mann_whitney: return "mann-whitney";
    case GateMethod::history_spread: return "history";
  }
  return "";
}

// The gate's cases: repeats scaled by the probes when the baseline is from
// another (or an unknown) machine. Cases with a single value either side go
// to *single (the ratio alone decides them).
std::vector<GateCase> gate_cases(const std::vector<Timed>& rows, const Baseline& b,
                                 std::vector<std::pair<std::string, double>>* single) {
  std::vector<BenchCase> now;
  for (const auto& r : rows) now.push_back({r.suite, r.name, r.median_s, r.repeats_s, 0, 0});
  const double s_now = b.scale > 0 ? probe_scale(now) : 1, s_base = b.scale > 0 ? b.scale : 1;
  std::vector<GateCase> out;
  for (const auto& r : rows) {
    if (r.name.rfind("probe/", 0) == 0) continue;
    GateCase g;
    g.name = r.name;
    for (double v : r.repeats_s) g.candidate.push_back(v / s_now);
    if (const auto h = b.history.find(r.name); h != b.history.end()) {
      g.history_medians = h->second;
    } else if (const auto it = b.repeats.find(r.name); it != b.repeats.end()) {
      for (double v : it->second) g.baseline.push_back(v / s_base);
      if (g.baseline.size() < 3 || g.candidate.size() < 3) {
        single->push_back({r.name, median_of(g.candidate) / median_of(g.baseline)});
        continue;
      }
    } else {
      continue;  // a case the baseline does not have
    }
    out.push_back(std::move(g));
  }
  return out;
}

GateOptions gate_options(const BenchOptions& o) {
  GateOptions go;
  go.alpha = o.alpha;
  go.threshold = o.tolerance;
  return go;
}

// The cases the first timing flagged, timed again as the first timing was (in
// this process, or interleaved with a fresh timing of the baseline binary),
// through the same test: bench/gate.h, confirm_flags.
std::vector<GateResult> gate_again(const BenchOptions& o, const std::vector<GateResult>& first, const Baseline& b) {
  std::set<std::string> names;
  for (const auto& r : first)
    if (r.flagged) names.insert(r.name);
  if (names.empty()) return {};
  BenchOptions again = o;
  again.retiming = true;
  again.filter = fmt::format("{}", fmt::join(names, ","));
  std::printf("\n%zu case(s) flagged: timed again (%d repeats) to confirm\n", names.size(), o.repeats);
  std::fflush(stdout);
  Baseline b2 = b;
  std::vector<Timed> rows;
  if (o.baseline_binary.empty()) {
    rows = time_rounds(again);
  } else {
    b2.repeats.clear();
    rows = interleaved_rounds(again, &b2);
  }
  // The filter matches by substring: keep the flagged cases and the probes.
  std::erase_if(rows, [&](const Timed& t) { return !names.count(t.name) && t.name.rfind("probe/", 0) != 0; });
  std::vector<std::pair<std::string, double>> single;
  return speed_gate(gate_cases(rows, b2, &single), gate_options(o));
}

void print_gate(const BenchOptions& o, const Baseline& b, const std::vector<GateResult>& res) {
  std::printf("\nagainst %s%s\nflagged when Holm-adjusted p <= %.3g (family-wise false-alarm rate over %zu cases) "
              "and slower by more than %.0f%%, in the first timing and again in a second timing of the case\n",
              b.what.c_str(), b.scale > 0 ? ", times relative to the probes" : "", o.alpha, res.size(),
              100 * o.tolerance);
  std::printf("%-36s %8s %10s %10s %13s %12s %14s\n", "case", "ratio", "p", "p (Holm)", "test", "again ratio",
              "again p (Holm)");
  for (const auto& r : res) {
    const std::string ar = r.retimed ? fmt::format("{:.3f}", r.again_ratio) : "-";
    const std::string ap = r.retimed ? fmt::format("{:.3g}", r.again_p_holm) : "-";
    std::printf("%-36s %8.3f %10.3g %10.3g %13s %12s %14s%s\n", r.name.c_str(), r.ratio, r.p, r.p_holm,
                method_name(r.method).c_str(), ar.c_str(), ap.c_str(),
                r.flagged ? "  SLOWER" : (r.retimed ? "  not confirmed" : ""));
  }
}

void compare(const BenchOptions& o, const std::vector<Timed>& rows, const Baseline& b) {
  if (b.repeats.empty() && b.history.empty()) {
    spdlog::warn("--compare {}: no bench record to compare with yet (an empty history): nothing gated", o.compare);
    return;
  }
  std::vector<std::pair<std::string, double>> single;
  const auto first = speed_gate(gate_cases(rows, b, &single), gate_options(o));
  const auto res = confirm_flags(first, gate_again(o, first, b));
  print_gate(o, b, res);
  std::vector<std::string> slower;
  for (const auto& r : res)
    if (r.flagged) slower.push_back(r.name);
  for (const auto& [name, ratio] : single) {  // no repeats to test: the ratio alone, as before --repeats
    const bool bad = ratio > 1 + o.tolerance;
    std::printf("%-36s %8.3f %10s %10s %13s%s\n", name.c_str(), ratio, "-", "-", "ratio only", bad ? "  SLOWER" : "");
    if (bad) slower.push_back(name);
  }
  if (!slower.empty())
    throw std::runtime_error(fmt::format("bench: {} case(s) slower than {}: {}", slower.size(), b.what,
                                         fmt::join(slower, ", ")));
}

void run_bench_cmd(const BenchOptions& o) {
  check_options(o);
  Baseline base = load_baseline(o);  // a garbage baseline is refused before minutes of timing
  blas_set_threads(o.threads);
  const std::vector<Timed> rows = o.baseline_binary.empty() ? time_rounds(o) : interleaved_rounds(o, &base);
  print_rows(rows);
  if (!o.csv.empty()) {
    write_file_atomic(o.csv, csv_text(rows));
    const ProbeRates p = probe_rates(rows);  // the table, with what each column means
    write_file_atomic(markdown_path(o.csv), markdown_text(table_rows(rows, p.triad_gb_s, p.sgemm_gflop_s)));
  }
  if (!o.compare.empty() || !o.baseline_binary.empty()) compare(o, rows, base);
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "Time norm kernels, layers and training steps");
  sub->add_option("--suite", o->suite, "all | probe | norm | layers | step")->capture_default_str();
  sub->add_option("--threads", o->threads, "BLAS threads")->capture_default_str()->check(CLI::Range(1, kMaxThreads));
  sub->add_option("--filter", o->filter, "only cases whose name contains this text (comma-separated: any of them)");
  sub->add_option("--csv", o->csv, "write the results as CSV");
  sub->add_option("--repeats", o->repeats, "time every case this many times, in rounds (the gate tests the repeats)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub->add_option("--compare", o->compare,
                  "baseline: a bench CSV, or a history folder (this machine's spread over its last commits); "
                  "exit 1 if a case is clearly slower");
  sub->add_option("--baseline-binary", o->baseline_binary,
                  "another normlab binary, timed in rounds interleaved with this one (needs --repeats >= 3)")
      ->check(kExistingFile);
  sub->add_option("--tolerance", o->tolerance, "practical threshold: slowdowns up to this fraction never fail")
      ->capture_default_str();
  sub->add_option("--alpha", o->alpha, "false-alarm rate of one comparison, over all its cases (Holm)")
      ->capture_default_str();
  sub->add_option("--min-time", o->min_time, "seconds of timing per case and repeat")->capture_default_str();
  sub->footer(kColumns);
  sub->callback([o] { run_bench_cmd(*o); });
}

}  // namespace normlab::cmd
