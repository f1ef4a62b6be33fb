// claims.csv and claims.md (layouts in verdict_files.h).
#include "claims/verdict_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "results/run_files.h"

namespace normlab {

namespace {
std::string signed_num(double v) { return fmt::format("{:+.4g}", v); }
}  // namespace

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

double decisive(const ClaimResult& r) {
  double m = INFINITY;
  for (const auto& c : r.comparisons) m = std::min(m, c.mean);
  return std::isfinite(m) ? m : 0.0;
}

std::string claims_csv(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results) {
  std::string s = "id,verdict,decisive_mean_diff,comparisons,metric_by_group,metric,by,control,margin,"
                  "tolerance,note,statement,rule\n";
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
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

std::string claims_md(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results,
                      const std::string& profile) {
  std::string s = fmt::format("# normlab claims ({} profile)\n\nGenerated {} by `normlab claims --profile {}`."
                              " Each claim's rule was written before its results were seen; the "
                              "verdict is what the rule gives.\n\n| claim | verdict | decisive mean "
                              "difference | margin |\n|---|---|---:|---:|\n", profile, utc_now(), profile);
  for (std::size_t i = 0; i < rules.size(); ++i)
    s += fmt::format("| [{}](#{}) | **{}** | {} | {} |\n", rules[i].id, rules[i].id,
                     results[i].verdict, signed_num(decisive(results[i])), rules[i].margin);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& c = rules[i];
    const auto& res = results[i];
    s += fmt::format("\n## {}\n\n**Claim:** {}\n\n**Source:** {}\n\n**Rule:** {}\n\n**Verdict: {}**{}\n\n",
                     c.id, c.statement, c.source, c.text, res.verdict,
                     res.note.empty() ? "" : " (" + res.note + ")");
    std::string what;
    if (c.metric == "largest_stable_lr") what = " (log10 of the learning rate)";
    if (c.metric == "value" || c.metric == "spread")
      what = fmt::format(" (column `{}` of {}{})", c.column, c.file,
                         c.relative ? "; differences are ratios minus 1" : "");
    s += fmt::format("Metric `{}`{} per {} and seed (mean over seeds):\n\n| {} | metric |\n|---|---:|\n",
                     c.metric, what, c.by, c.by);
    for (const auto& norm : natural_order(res.metric)) {
      const auto& seeds = res.metric.at(norm);
      double m = 0;
      for (const auto& [sd, v] : seeds) m += v / double(seeds.size());
      s += fmt::format("| {} | {:.4g} |\n", norm, m);
    }
    s += "\n| treatment vs " + c.control + " | per-seed differences | mean | verdict |\n|---|---|---:|---|\n";
    for (const auto& cmp : res.comparisons) {
      std::string d;
      for (double v : cmp.diffs) d += (d.empty() ? "" : ", ") + signed_num(v);
      s += fmt::format("| {} | {} | {} | {} |\n", cmp.treatment, d, signed_num(cmp.mean), cmp.verdict);
    }
    const std::string data = c.measure == "step-time" ? "timings.csv" : "runs.csv";
    s += fmt::format("\nData: [{0}/{1}]({0}/{1}); figures: [{0}/report.md]({0}/report.md).\n", c.id, data);
  }
  return s;
}

}  // namespace normlab
