// normlab bench: timings of norm kernels, layers and whole training steps,
// with the machine's memory bandwidth (triad) and sgemm rate as yardsticks.
// --compare BASELINE.csv: each case's time relative to the probes, against
// the baseline's; exit 1 when a case is slower by more than --tolerance.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "bench/cases.h"
#include "cmd/subcommands.h"
#include "core/errors.h"
#include "core/out_path.h"
#include "tensor/gemm.h"
#include "results/csv_table.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

struct BenchOptions {
  std::string suite = "all";
  int threads = 1;
  std::string csv, compare, filter;
  double tolerance = 0.25;
  double min_time = 0.3;
};

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
    "  gemm% [gemm_part_gflop_per_s]  steps only: the GEMM part's own rate (GEMM work over the time spent\n"
    "                         inside gemm) as a percentage of probe/sgemm's; it can pass 100 when a step's\n"
    "                         products are shapes OpenBLAS runs faster than the probe's 512x784x128\n"
    "Probes (always run first): probe/triad a[i] = b[i] + s*c[i] over 3 x 128 MiB;\n"
    "probe/sgemm-512x784x128 one float32 matrix product.";

std::string csv_text(const std::vector<BenchRow>& rows) {
  std::string s = "suite,name,median_s,min_s,samples_per_s,gb_per_s,gflop_per_s,gemm_part_gflop_per_s,max_s,repeats\n";
  for (const auto& r : rows)
    s += fmt::format("{},{},{:.6g},{:.6g},{:.6g},{:.4g},{:.4g},{:.4g},{:.6g},{}\n", r.suite, r.name, r.median_s,
                     r.min_s, r.samples_per_s(), r.gb_per_s(), r.gflop_per_s(), r.gemm_gflop_per_s(), r.max_s,
                     r.repeats);
  return s;
}

// One printed row: case, median ms, min-max ms, runs, samples/s, GB/s, GFLOP/s, %triad, %sgemm, gemm%.
struct TableRow {
  std::vector<std::string> cells;
};

std::vector<TableRow> table_rows(const std::vector<BenchRow>& rows, double triad, double sgemm) {
  auto pct = [](bool show, double v) { return show ? fmt::format("{:.0f}", v) : std::string(); };
  std::vector<TableRow> out;
  for (const auto& r : rows)
    out.push_back({{r.name, fmt::format("{:.4g}", r.median_s * 1e3),
                    fmt::format("{:.4g}-{:.4g}", r.min_s * 1e3, r.max_s * 1e3), fmt::format("{}", r.repeats),
                    fmt::format("{:.0f}", r.samples_per_s()), fmt::format("{:.2f}", r.gb_per_s()),
                    fmt::format("{:.2f}", r.gflop_per_s()),
                    pct(r.bytes > 0 && r.name != "probe/triad", 100 * r.gb_per_s() / triad),
                    pct(r.flops > 0 && r.name.rfind("probe/", 0) != 0, 100 * r.gflop_per_s() / sgemm),
                    pct(r.gemm_s > 0, 100 * r.gemm_gflop_per_s() / sgemm)}});
  return out;
}

// X.csv -> X.md: the CSV's companion Markdown.
std::string markdown_path(const std::string& csv) {
  return std::filesystem::path(csv).replace_extension(".md").string();
}

std::string markdown_text(const std::vector<TableRow>& table) {
  std::string s = "# normlab bench\n\n| case | median ms | min-max ms | runs | samples/s | GB/s | GFLOP/s | %triad | "
                  "%sgemm | gemm% |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& t : table) s += fmt::format("| {} |\n", fmt::join(t.cells, " | "));
  return s + "\n```\n" + kColumns + "\n```\n";
}

// name -> median_s from a bench CSV.
std::map<std::string, double> read_medians(const std::string& path) {
  const CsvTable t = read_csv(path);
  if (t.header.size() < 3 || t.header[0] != "suite" || t.header[1] != "name" || t.header[2] != "median_s")
    throw ConfigError(fmt::format("{}: not a bench CSV (header must start with suite,name,median_s)", path));
  std::map<std::string, double> m;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const double v = t.num(i, "median_s");
    if (!(std::isfinite(v) && v > 0))
      throw ConfigError(fmt::format("{}: data row {}, column 'median_s': {} (allowed: a time in seconds > 0)", path,
                                    i + 1, t.at(i, "median_s")));
    m[t.at(i, "name")] = v;
  }
  if (m.empty()) throw ConfigError(fmt::format("{}: no cases (a bench CSV has one row per case)", path));
  return m;
}

void run_bench_cmd(const BenchOptions& o) {
  // Checked before anything is timed; NaN fails every comparison, so it is caught too.
  if (!(o.min_time > 0 && o.min_time <= 3600))
    throw ConfigError(fmt::format("--min-time: {} (allowed: seconds of timing per case, > 0 and <= 3600)", o.min_time));
  if (!(o.tolerance >= 0 && o.tolerance <= 100))
    throw ConfigError(fmt::format("--tolerance: {} (allowed: a fraction >= 0 and <= 100, e.g. 0.25 for 25% slower)",
                                  o.tolerance));
  if (o.suite != "all") {
    bool ok = false;
    for (const auto& s : bench_suites()) ok = ok || s == o.suite;
    if (!ok) throw ConfigError(fmt::format("--suite: unknown '{}' (allowed: all, probe, norm, layers, step)", o.suite));
  }
  // The output and the baseline too: minutes of timing must not end in "cannot write" or a garbage baseline.
  if (!o.csv.empty()) check_out_file("--csv", o.csv, false);
  if (!o.csv.empty()) check_out_file("--csv", markdown_path(o.csv), false);  // its companion X.md
  std::map<std::string, double> base;
  if (!o.compare.empty()) base = read_medians(o.compare);
  blas_set_threads(o.threads);
  TimingOptions t;
  t.min_total_s = o.min_time;
  std::vector<BenchRow> cases;
  for (const auto& s : bench_suites())
    if (s != "probe" && (o.suite == "all" || o.suite == s))
      for (auto& r : run_bench(s, t, o.filter)) cases.push_back(r);
  // Nothing was timed when nothing matched: refused before the probes too.
  if (!o.filter.empty() && cases.empty())
    throw ConfigError(fmt::format("--filter: '{}' matches no case of --suite {} (case names are listed by "
                                  "`normlab bench --suite {}`; the probes take no filter)",
                                  o.filter, o.suite, o.suite == "probe" ? "all" : o.suite));
  std::vector<BenchRow> rows = run_bench("probe", t);  // always: the yardsticks, listed first
  rows.insert(rows.end(), cases.begin(), cases.end());
  double triad = 0, sgemm = 0;
  for (const auto& r : rows) {
    if (r.name == "probe/triad") triad = r.gb_per_s();
    if (r.name.rfind("probe/sgemm", 0) == 0) sgemm = r.gflop_per_s();
  }
  // Columns: kColumns. Times as hyperfine gives them: median, min-max, runs.
  const std::vector<TableRow> table = table_rows(rows, triad, sgemm);
  std::printf("%-36s %10s %19s %5s %12s %8s %9s %7s %7s %7s\n", "case", "median ms", "min-max ms", "runs",
              "samples/s", "GB/s", "GFLOP/s", "%triad", "%sgemm", "gemm%");
  for (const auto& t : table) {
    const auto& c = t.cells;
    std::printf("%-36s %10s %19s %5s %12s %8s %9s %7s %7s %7s\n", c[0].c_str(), c[1].c_str(), c[2].c_str(),
                c[3].c_str(), c[4].c_str(), c[5].c_str(), c[6].c_str(), c[7].c_str(), c[8].c_str(), c[9].c_str());
  }
  if (!o.csv.empty()) {
    write_file_atomic(o.csv, csv_text(rows));
    write_file_atomic(markdown_path(o.csv), markdown_text(table));  // the table, with what each column means
  }

  if (o.compare.empty()) return;
  // Relative to the probes, so a faster or slower machine does not read as a change.
  auto probe_scale = [](const std::map<std::string, double>& m) {
    const auto tri = m.find("probe/triad"), sg = m.find("probe/sgemm-512x784x128");
    return std::sqrt((tri != m.end() ? tri->second : 1.0) * (sg != m.end() ? sg->second : 1.0));
  };
  std::map<std::string, double> now;
  for (const auto& r : rows) now[r.name] = r.median_s;
  const double s_now = probe_scale(now), s_base = probe_scale(base);
  int slower = 0;
  std::printf("\n%-36s %10s  (time relative to the probes, now / baseline; tolerance +%.0f%%)\n", "case", "ratio",
              100 * o.tolerance);
  for (const auto& r : rows) {
    auto it = base.find(r.name);
    if (it == base.end() || r.name.rfind("probe/", 0) == 0) continue;
    const double ratio = (r.median_s / s_now) / (it->second / s_base);
    const bool bad = ratio > 1 + o.tolerance;
    slower += bad;
    std::printf("%-36s %10.3f%s\n", r.name.c_str(), ratio, bad ? "  SLOWER" : "");
  }
  if (slower)
    throw std::runtime_error(fmt::format("bench: {} case(s) slower than {} by more than {:.0f}%",
                                         slower, o.compare, 100 * o.tolerance));
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "Time norm kernels, layers and training steps");
  sub->add_option("--suite", o->suite, "all | probe | norm | layers | step")->capture_default_str();
  sub->add_option("--threads", o->threads, "BLAS threads")->capture_default_str()->check(CLI::Range(1, kMaxThreads));
  sub->add_option("--filter", o->filter, "only cases whose name contains this text");
  sub->add_option("--csv", o->csv, "write the results as CSV");
  sub->add_option("--compare", o->compare, "baseline bench CSV to compare against (exit 1 if slower)");
  sub->add_option("--tolerance", o->tolerance, "allowed slowdown for --compare, as a fraction")->capture_default_str();
  sub->add_option("--min-time", o->min_time, "seconds of timing per case")->capture_default_str();
  sub->footer(kColumns);
  sub->callback([o] { run_bench_cmd(*o); });
}

}  // namespace normlab::cmd
