// normlab claims: run each claim's experiment (experiments/claims/ID.toml)
// through the sweep engine at a profile size, apply its pre-registered rule,
// and write claims.csv and claims.md. --baseline DIR exits 1 when a verdict
// flips or a decisive number moves beyond the rule's tolerance.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "claims/rule.h"
#include "bench/grid_timing.h"
#include "cmd/subcommands.h"
#include "cmd/test_faults.h"
#include "core/errors.h"
#include "sweep/manifest.h"
#include "sweep/scheduler.h"
#include "tensor/blas_kernel.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct ClaimsOptions {
  std::string profile = "quick";
  std::vector<std::string> only;
  std::string out;  // default results/claims-<profile>
  std::string baseline;
  std::string dir = "experiments/claims";
  int jobs = 0;
  bool no_report = false;
};

struct Claim {
  std::string path;
  ClaimRule rule;
  Experiment ex;
  ExperimentOptions eo;
};

// Figures and report.md for one claim directory (scripts/report.py); a
// failure there is reported but does not change the verdicts.
void render_report(const std::string& dir) {
  const int rc = std::system(fmt::format("/usr/bin/python3 scripts/report.py '{}' >/dev/null 2>&1", dir).c_str());
  if (rc != 0) spdlog::warn("{}: scripts/report.py failed (exit {}); claims.md links to a missing report", dir, rc);
}

// timings.csv holds exactly the experiment's runs, in grid order.
bool timings_complete(const std::string& path, const Experiment& ex) {
  if (!fs::exists(path)) return false;
  try {
    const CsvTable t = read_csv(path);
    if (t.rows.size() != ex.runs.size()) return false;
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.at(i, "run_id") != ex.runs[i].run_id()) return false;
    return true;
  } catch (const ConfigError&) {
    return false;
  }
}

// Group names in natural order: numbers compare as numbers ("2" < "16" < "128").
std::vector<std::string> natural_order(const std::map<std::string, std::map<long, double>>& m) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  auto split = [](const std::string& s) {
    std::vector<std::pair<std::string, double>> parts;  // text run, then the number after it
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t j = i;
      while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      std::size_t k = j;
      while (k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '.')) ++k;
      parts.push_back({s.substr(i, j - i), k > j ? std::atof(s.substr(j, k - j).c_str()) : -1.0});
      i = k;
    }
    return parts;
  };
  std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    // Combination first (" @ model=..."), then the compared value, so rows of one combination sit together.
    const auto at_a = a.find(" @ "), at_b = b.find(" @ ");
    const std::string ca = at_a == std::string::npos ? "" : a.substr(at_a), cb = at_b == std::string::npos ? "" : b.substr(at_b);
    const auto ka = std::make_pair(split(ca), split(a.substr(0, at_a))), kb = std::make_pair(split(cb), split(b.substr(0, at_b)));
    return ka < kb;
  });
  return keys;
}

std::string signed_num(double v) { return fmt::format("{:+.4g}", v); }

// The number that decides a claim: the smallest mean difference over its treatments.
double decisive(const ClaimResult& r) {
  double m = INFINITY;
  for (const auto& c : r.comparisons) m = std::min(m, c.mean);
  return std::isfinite(m) ? m : 0.0;
}

std::string claims_csv(const std::vector<Claim>& claims, const std::vector<ClaimResult>& results) {
  std::string s = "id,verdict,decisive_mean_diff,comparisons,metric_by_group,metric,by,control,margin,"
                  "tolerance,note,statement,rule\n";
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const auto& r = claims[i].rule;
    const auto& res = results[i];
    std::string comps, by_norm;
    for (const auto& c : res.comparisons)
      comps += fmt::format("{}{}: {} mean {} [min {}, max {}] over {} seeds", comps.empty() ? "" : "; ",
                           c.treatment, c.verdict, signed_num(c.mean), signed_num(c.min), signed_num(c.max),
                           c.diffs.size());
    for (const auto& [norm, seeds] : res.metric) {
      double m = 0;
      for (const auto& [sd, v] : seeds) m += v / double(seeds.size());
      by_norm += fmt::format("{}{}={:.4g}", by_norm.empty() ? "" : "; ", norm, m);
    }
    s += fmt::format("{},{},{:.6g},{},{},{},{},{},{},{},{},{},{}\n", r.id, res.verdict, decisive(res),
                     csv_field(comps), csv_field(by_norm), r.metric, r.by, r.control, r.margin, r.tolerance,
                     csv_field(res.note),
                     csv_field(r.statement), csv_field(r.text));
  }
  return s;
}

std::string claims_md(const std::vector<Claim>& claims, const std::vector<ClaimResult>& results,
                      const std::string& profile) {
  std::string s = fmt::format("# normlab claims ({} profile)\n\nGenerated {} by `normlab claims --profile {}`."
                              " Each claim's rule was written before its results were seen; the "
                              "verdict is what the rule gives.\n\n| claim | verdict | decisive mean "
                              "difference | margin |\n|---|---|---:|---:|\n", profile, utc_now(), profile);
  for (std::size_t i = 0; i < claims.size(); ++i)
    s += fmt::format("| [{}](#{}) | **{}** | {} | {} |\n", claims[i].rule.id, claims[i].rule.id,
                     results[i].verdict, signed_num(decisive(results[i])), claims[i].rule.margin);
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const auto& c = claims[i];
    const auto& res = results[i];
    s += fmt::format("\n## {}\n\n**Claim:** {}\n\n**Source:** {}\n\n**Rule:** {}\n\n**Verdict: {}**{}\n\n",
                     c.rule.id, c.rule.statement, c.rule.source, c.rule.text, res.verdict,
                     res.note.empty() ? "" : " (" + res.note + ")");
    std::string what;
    if (c.rule.metric == "largest_stable_lr") what = " (log10 of the learning rate)";
    if (c.rule.metric == "value" || c.rule.metric == "spread")
      what = fmt::format(" (column `{}` of {}{})", c.rule.column, c.rule.file,
                         c.rule.relative ? "; differences are ratios minus 1" : "");
    s += fmt::format("Metric `{}`{} per {} and seed (mean over seeds):\n\n| {} | metric |\n|---|---:|\n",
                     c.rule.metric, what, c.rule.by, c.rule.by);
    for (const auto& norm : natural_order(res.metric)) {
      const auto& seeds = res.metric.at(norm);
      double m = 0;
      for (const auto& [sd, v] : seeds) m += v / double(seeds.size());
      s += fmt::format("| {} | {:.4g} |\n", norm, m);
    }
    s += "\n| treatment vs " + c.rule.control + " | per-seed differences | mean | verdict |\n|---|---|---:|---|\n";
    for (const auto& cmp : res.comparisons) {
      std::string d;
      for (double v : cmp.diffs) d += (d.empty() ? "" : ", ") + signed_num(v);
      s += fmt::format("| {} | {} | {} | {} |\n", cmp.treatment, d, signed_num(cmp.mean), cmp.verdict);
    }
    const std::string data = c.rule.measure == "step-time" ? "timings.csv" : "runs.csv";
    s += fmt::format("\nData: [{0}/{1}]({0}/{1}); figures: [{0}/report.md]({0}/report.md).\n", c.rule.id, data);
  }
  return s;
}

// Warns when the baseline's claims ran on another BLAS kernel than this
// process (their numbers may then differ in the last bits, growing over training).
void warn_baseline_kernel(const std::string& dir, const std::vector<Claim>& claims) {
  const std::string now = blas_kernel().name;
  std::set<std::string> kernels;
  for (const auto& c : claims) {
    std::ifstream in(dir + "/" + c.rule.id + "/manifest.json");
    if (!in) continue;
    const auto m = nlohmann::json::parse(in, nullptr, false);
    if (m.is_discarded()) continue;
    kernels.insert(m.contains("build") ? m["build"].value("blas_kernel", "unrecorded") : "unrecorded");
  }
  for (const auto& k : kernels)
    if (k != now)
      spdlog::warn("baseline {}: made with BLAS kernel {}, this run uses {}; numbers may differ beyond the "
                   "tolerances for that reason alone", dir, k, now);
}

// Verdict flips and moves beyond tolerance against a baseline claims.csv.
int compare_baseline(const std::string& dir, const std::vector<Claim>& claims,
                     const std::vector<ClaimResult>& results) {
  const CsvTable base = read_csv(dir + "/claims.csv");
  warn_baseline_kernel(dir, claims);
  int changes = 0;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const auto& r = claims[i].rule;
    std::size_t row = base.rows.size();
    for (std::size_t j = 0; j < base.rows.size(); ++j)
      if (base.at(j, "id") == r.id) row = j;
    if (row == base.rows.size()) {
      spdlog::warn("baseline {}: no row for claim {}", dir, r.id);
      continue;
    }
    const std::string v0 = base.at(row, "verdict");
    const double d0 = base.num(row, "decisive_mean_diff"), d1 = decisive(results[i]);
    if (r.measure == "step-time") {
      // Timings vary with the machine and its load; speed is gated by `bench --compare`.
      if (v0 != results[i].verdict || std::abs(d1 - d0) > r.tolerance)
        spdlog::warn("{}: '{}' ({:.4g}) vs baseline '{}' ({:.4g}); a timing claim, reported but not gated",
                     r.id, results[i].verdict, d1, v0, d0);
      else
        spdlog::info("{}: unchanged ({}, {:.4g} vs baseline {:.4g})", r.id, v0, d1, d0);
      continue;
    }
    if (v0 != results[i].verdict) {
      spdlog::error("{}: verdict changed from '{}' to '{}'", r.id, v0, results[i].verdict);
      ++changes;
    } else if (std::abs(d1 - d0) > r.tolerance) {
      spdlog::error("{}: decisive difference moved from {:.4g} to {:.4g} (tolerance {})", r.id, d0, d1, r.tolerance);
      ++changes;
    } else {
      spdlog::info("{}: unchanged ({}, {:.4g} vs baseline {:.4g})", r.id, v0, d1, d0);
    }
  }
  return changes;
}

void run_claims(const ClaimsOptions& o) {
  if (o.profile != "quick" && o.profile != "full")
    throw ConfigError(fmt::format("--profile: '{}' (allowed: quick, full)", o.profile));
  std::vector<std::string> files;
  if (!fs::is_directory(o.dir)) throw ConfigError(fmt::format("--dir: {} is not a directory", o.dir));
  for (const auto& e : fs::directory_iterator(o.dir))
    if (e.path().extension() == ".toml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  // Everything is read and checked before anything runs.
  std::vector<Claim> claims;
  std::vector<std::string> ids;
  for (const auto& f : files) {
    Claim c;
    c.path = f;
    c.rule = read_claim_rule(f);
    ids.push_back(c.rule.id);
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), c.rule.id) == o.only.end()) continue;
    c.eo.profile = o.profile;
    c.ex = load_experiment(f, c.eo);
    claims.push_back(std::move(c));
  }
  for (const auto& id : o.only)
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      throw ConfigError(fmt::format("--only: unknown claim '{}' (allowed: {})", id, fmt::join(ids, ", ")));
  for (const auto& c : claims) validate_runs(c.ex);

  const std::string out = o.out.empty() ? "results/claims-" + o.profile : o.out;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  SweepOptions so;
  so.faults = test_faults();
  so.jobs = o.jobs > 0 ? o.jobs : cores;
  so.threads_per_run = std::max(1, cores / so.jobs);
  std::vector<ClaimResult> results;
  int errors = 0;
  for (const auto& c : claims) {
    const std::string dir = out + "/" + c.rule.id;
    const std::string started = utc_now();
    if (c.rule.measure == "step-time") {
      // Timed one configuration at a time: concurrent jobs would time each other.
      // Like a sweep, a complete earlier measurement of the same grid is reused.
      fs::create_directories(dir);
      if (timings_complete(dir + "/timings.csv", c.ex)) {
        spdlog::info("{}: reusing {}/timings.csv (remove it to time again)", c.rule.id, dir);
      } else {
        spdlog::info("{}: timing {} configurations, one at a time", c.rule.id, c.ex.runs.size());
        TimingOptions topt;
        topt.min_total_s = o.profile == "full" ? 0.5 : 0.2;
        write_file_atomic(dir + "/timings.csv", time_step_configs(c.ex.runs, c.ex.specs, topt));
        write_file_atomic(dir + "/manifest.json", sweep_manifest(c.ex, c.eo, started, utc_now()).dump(2) + "\n");
      }
      results.push_back(evaluate_claim(c.rule, read_csv(dir + "/timings.csv")));
      spdlog::info("{}: {}", c.rule.id, results.back().verdict);
      if (!o.no_report) render_report(dir);
      continue;
    }
    const SweepDir sd(dir);
    const auto sum = run_sweep(c.ex, sd, so, [&](const SweepProgress& p, const std::string&) {
      if (p.done % 10 == 0 || p.done + p.skipped == p.total)
        spdlog::info("{}: {}/{} runs", c.rule.id, p.skipped + p.done, p.total);
    });
    errors += sum.progress.failed;
    write_file_atomic(dir + "/manifest.json", sweep_manifest(c.ex, c.eo, started, utc_now()).dump(2) + "\n");
    const CsvTable curves = read_csv(dir + "/curves.csv"), acts = read_csv(dir + "/activations.csv");
    const CsvTable runs = read_csv(dir + "/runs.csv");
    const CsvTable table = c.rule.file == "runs.csv" ? runs : join_runs(read_csv(dir + "/" + c.rule.file), runs);
    results.push_back(evaluate_claim(c.rule, table, &curves, &acts));
    spdlog::info("{}: {}", c.rule.id, results.back().verdict);
    if (!o.no_report) render_report(dir);
  }
  write_file_atomic(out + "/claims.csv", claims_csv(claims, results));
  write_file_atomic(out + "/claims.md", claims_md(claims, results, o.profile));
  std::printf("%-22s %s\n", "claim", "verdict");
  for (std::size_t i = 0; i < claims.size(); ++i)
    std::printf("%-22s %s\n", claims[i].rule.id.c_str(), results[i].verdict.c_str());
  spdlog::info("wrote {}/claims.md and claims.csv", out);
  if (errors) throw std::runtime_error(fmt::format("{} run(s) ended in error", errors));
  if (!o.baseline.empty() && compare_baseline(o.baseline, claims, results) > 0)
    throw std::runtime_error(fmt::format("claims changed against the baseline {}", o.baseline));
}

}  // namespace

void setup_claims(CLI::App& app) {
  auto o = std::make_shared<ClaimsOptions>();
  auto* sub = app.add_subcommand("claims", "Test the documented claims about batch norm and give verdicts");
  sub->add_option("--profile", o->profile, "quick (minutes, for CI) or full")->capture_default_str();
  sub->add_option("--only", o->only, "only these claim ids");
  sub->add_option("--out", o->out, "output directory [default: results/claims-<profile>]");
  sub->add_option("--baseline", o->baseline, "compare with this claims directory; exit 1 on a change")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--dir", o->dir, "directory of claim experiment files")->capture_default_str();
  sub->add_option("-j,--jobs", o->jobs, "runs at once [default: the core count]");
  sub->add_flag("--no-report", o->no_report, "skip the per-claim figures (scripts/report.py)");
  sub->callback([o] { run_claims(*o); });
}

}  // namespace normlab::cmd
