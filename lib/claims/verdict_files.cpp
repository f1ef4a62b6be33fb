// claims.csv and claims.md (layouts in verdict_files.h).
#include "claims/verdict_files.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "claims/plateau.h"
#include "results/run_files.h"

namespace normlab {

namespace {
std::string signed_num(double v) { return fmt::format("{:+.4g}", v); }

// The interval's method, its resolution floor, the censored seeds and (equivalence rules) the TOST interval.
std::string method_text(const Comparison& c) {
  std::string s = method_name(c.cell_rule.method);
  if (c.look >= 0)  // a group-sequential look: the interval's level is the look's, not 95%
    s += fmt::format(" at {:.4g}%, look {}", 100 * (1 - 2 * c.cell_rule.alpha), c.look + 1);
  if (c.cell_rule.resolution > 0) s += fmt::format(", at least ±{:.3g}", c.cell_rule.resolution);
  if (c.sample.censored > 0) s += fmt::format(", {} of {} censored", c.sample.censored, c.diffs.size());
  if (c.cell_rule.equivalence)
    s += fmt::format("; 90% TOST [{}, {}]", signed_num(c.tost_low), signed_num(c.tost_high));
  if (c.edge_treatment + c.edge_control > 0)
    s += fmt::format("; lr at the grid's edge in {} (treatment) and {} (control) seeds", c.edge_treatment, c.edge_control);
  return s;
}

std::string cell_text(Verdict verdict, Why why, const Comparison& c, double margin) {
  std::string v = verdict_name(verdict);
  if (why == Why::equivalent) v += fmt::format(" (no practical difference: within ±{})", margin);
  else if (why != Why::none) v += fmt::format(" ({})", why_name(why));
  if (verdict == Verdict::inconclusive)
    v += c.seeds_needed > 0 ? fmt::format(" (about {} seeds for 80% power one margin away)", c.seeds_needed)
                            : " (no number of seeds: the resolution is not finer than the margin)";
  return v;
}
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
  std::string s = "id,cell,n,mean,ci_low,ci_high,margin,verdict,why,seeds_needed,min,max,diffs,target,"
                  "tolerance,metric,by,control,note,statement,rule,verdict_unadjusted,why_unadjusted,level,kind,"
                  "method,resolution,censored,tost_low,tost_high,edge_treatment,edge_control,positive_control,"
                  "plateau,plateau_arm,plateau_seeds,plateau_n,plateau_gain\n";
  const auto num = [](double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); };
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    const auto& res = results[i];
    const MetricKind kind = metric_kind(r);
    // The claim's own row (cell empty): n counts its cells, mean is the decisive (smallest) cell mean.
    s += fmt::format("{},,{},{},,,{},{},,,,,,{},{},{},{},{},{},{},{},,,,{},{},,,,,,,,,,,,\n", r.id, res.comparisons.size(),
                     num(decisive(res)), r.margin, csv_field(verdict_text(res)), num(res.target), r.tolerance,
                     metric_name(r.metric), r.by, r.control, csv_field(res.note), csv_field(r.statement),
                     csv_field(r.text), kind_name(kind), method_name(method_for(kind)));
    for (const auto& c : res.comparisons) {
      std::string d;
      for (double v : c.diffs) d += (d.empty() ? "" : "; ") + fmt::format("{:.6g}", v);
      s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},,,,", r.id, csv_field(c.treatment),
                       c.diffs.size(), num(c.mean), num(c.ci_low), num(c.ci_high), c.cell_rule.margin, verdict_name(c.verdict),
                       why_name(c.why), c.verdict == Verdict::inconclusive ? std::to_string(c.seeds_needed) : "",
                       num(c.min), num(c.max), csv_field(d), num(std::isfinite(c.target) ? c.target : res.target),
                       r.tolerance, metric_name(r.metric), r.by, r.control);
      s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},", verdict_name(c.unadjusted),
                       csv_field(why_name(c.unadjusted_why)), num(c.level), kind_name(kind),
                       method_name(c.cell_rule.method), num(c.cell_rule.resolution), c.sample.censored,
                       num(c.tost_low), num(c.tost_high), c.edge_treatment, c.edge_control,
                       c.positive_control ? "yes" : "");
      s += fmt::format("{},{},{},{},{}\n", plateau_name(c.plateau), csv_field(c.plateau_arm),
                       c.plateau == Plateau::not_trained ? "" : std::to_string(c.plateau_seeds),
                       c.plateau == Plateau::not_trained ? "" : std::to_string(c.plateau_n), num(c.plateau_gain));
    }
  }
  return s;
}

// The claim's registered rule and its amendments (all of them, and which led from the folder's hash).
static std::string registration_md(const ClaimRule& c, const RuleStatus& st) {
  std::string s;
  if (st.registered.legacy)
    s = fmt::format("**Registered rule:** `{}`, registered {} **after its results** (a folder from before rules "
                    "were registered).",
                    st.current, st.registered.registered);
  else if (st.registered.hash == st.current)
    s = fmt::format("**Registered rule:** `{}`, registered {} before the runs.", st.current, st.registered.registered);
  else
    s = fmt::format("**Registered rule:** `{}`, registered {} before the runs; evaluated under the amended rule `{}` "
                    "({} amendment(s) lead there).", st.registered.hash, st.registered.registered, st.current,
                    st.applied.size());
  if (c.amendments.empty()) return s + " No amendments: the rule and settings have not changed since.\n\n";
  s += "\n\n**Amendments** (changes to the rule or settings after results were seen):\n\n"
       "| date | what changed | why | verdict it replaced | rule hash |\n|---|---|---|---|---|\n";
  const auto cell = [](const std::string& t) {
    std::string o;
    for (char ch : t) o += ch == '|' ? std::string("\\|") : ch == '\n' ? std::string(" ") : std::string(1, ch);
    return o;
  };
  for (const auto& a : c.amendments)
    s += fmt::format("| {} | {} | {} | {} | `{}` → `{}` |\n", a.date, cell(a.what), cell(a.why), cell(a.replaced),
                     a.from_hash, a.to_hash);
  return s + "\n";
}

namespace {
// "`fashion-mnist:val=0.1`", each of the runs' dataset specs once; "-" when not known.
std::string datasets_md(const std::vector<std::string>& datasets) {
  if (datasets.empty()) return "-";
  std::vector<std::string> v;
  for (const auto& d : datasets) v.push_back("`" + d + "`");
  return fmt::format("{}", fmt::join(v, ", "));
}

// "**Workload:** 1,080 runs, 4,512 s of training (one thread per run), 38.0 min wall in the last command
// that ran any, which trained 1,080 of them (0.47 runs/s);
// samples/s per model: mlp 18,204, cnn-deep 1,020."
std::string workload_md(const ClaimWorkload& w) {
  if (w.runs == 0) return "";
  std::string s = fmt::format("**Workload:** {} runs on {}, {:.0f} s of training (one thread per run)", w.runs,
                              datasets_md(w.datasets), w.train_s);
  if (w.wall_s >= 0) {
    s += fmt::format(", {:.1f} min wall in the last command that ran any", w.wall_s / 60);
    // A manifest from before runs_trained does not say how many of the runs that command trained.
    if (w.trained >= 0) s += fmt::format(", which trained {} of them", w.trained);
    if (w.trained >= 0 && w.wall_s > 0) s += fmt::format(" ({:.2f} runs/s)", double(w.trained) / w.wall_s);
  }
  if (!w.samples_per_s.empty()) {
    std::vector<std::string> per;
    for (const auto& [model, r] : w.samples_per_s) per.push_back(fmt::format("{} {:.0f}", model, r));
    s += fmt::format("; training samples/s per model: {}", fmt::join(per, ", "));
  }
  return s + ".\n\n";
}
}  // namespace

namespace {

std::string header_md(const std::string& profile) {
  std::string s = fmt::format("# normlab claims ({} profile)\n\n", profile);
  if (profile == "quick")
    s += "**This is a smoke test.** The quick profile runs every cell with few seeds and short training on "
         "the MNIST 10k subset, to show that the suite runs and to catch regressions against its baseline. "
         "Its verdicts are not evidence for or against a claim; the full profile's are.\n\n";
  s += fmt::format("Generated {} by `normlab claims --profile {}`. Each claim's rule is the one in its claim "
                   "file now. Rules are registered: before a claim's first run the hash of its rule and settings "
                   "goes into its folder's manifest, and results are evaluated under a changed rule only when "
                   "the claim file records the change as an amendment (listed under each claim). A cell is one treatment in one combination of the rule's `each` "
                   "keys; its per-seed differences give n, a mean and a 95% interval whose method fits the "
                   "metric's kind (t for continuous metrics; the exact signed-rank interval for grid-valued "
                   "metrics, step counts and rates, never narrower than the metric's resolution, with runs "
                   "that never reached a target counted as at least the budget). Equivalence is TOST at 90%. "
                   "Decisions are Holm-corrected across a claim's cells (both decisions are shown). "
                   "Each cell's plateau says whether its best arm had stopped improving: reached when more than "
                   "half of its seeds gained less than 0.005 selection-split accuracy over their last 20% of "
                   "steps; unknown when the runs were evaluated only at the end.\n\n", utc_now(),
                   profile);
  return s;
}

// The beside folder's claim verdict in the table: its class and cell counts, e.g. "depends (2 / 4 / 0 / 0)".
std::string beside_claim_md(const Beside& b, const ClaimRule& r) {
  const auto v = b.claim_verdict.find(r.id);
  if (v == b.claim_verdict.end()) return "(not run)";
  int n[4] = {0, 0, 0, 0};
  for (const auto& [key, c] : b.cells)
    if (key.first == r.id) ++n[int(c.verdict)];
  const std::string cls = v->second.substr(0, v->second.find(':'));
  return fmt::format("{} ({} / {} / {} / {}) on {}", cls, n[0], n[1], n[2], n[3], datasets_md(b.datasets.at(r.id)));
}

std::string verdict_table_md(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results,
                             const std::vector<ClaimWorkload>& work, const Beside* beside) {
  std::string s;
  const bool data = !work.empty();
  if (data)
    s += "The data column names each claim's dataset, as its runs record it: `fashion-mnist` is Fashion-MNIST "
         "(60,000 training images, less the `val` fraction held out for validation; scored on its whole "
         "10,000-image test set); `mnist` is the MNIST 10k subset (10,000 real digits: about 8,000 to train, "
         "less the `val` fraction, and 1,996 to test; `n=` takes fewer). A verdict holds for its data only.\n\n";
  if (beside)
    s += fmt::format("The last column is the {} profile in `{}`, shown beside these verdicts (its class, its "
                     "cells supported / not supported / inconclusive / untestable, and its data), so that the "
                     "table shows whether a verdict holds on both data sets. Its verdicts are read from its "
                     "claims.csv, not re-evaluated.\n\n", beside->profile, beside->dir);
  s += fmt::format("| claim | {}verdict | cells: supported / not supported / inconclusive / untestable | margin |{}\n"
                   "|---|{}---|---|---:|{}\n", data ? "data | " : "", beside ? " " + beside->profile + " profile |" : "",
                   data ? "---|" : "", beside ? "---|" : "");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    int n[4] = {0, 0, 0, 0};
    for (const auto& c : results[i].comparisons) ++n[int(c.verdict)];
    s += fmt::format("| [{}](#{}) | {}**{}** | {} / {} / {} / {} | {} |{}\n", rules[i].id, rules[i].id,
                     data ? datasets_md(work[i].datasets) + " | " : "", verdict_text(results[i]), n[0], n[1], n[2],
                     n[3], rules[i].margin, beside ? " " + beside_claim_md(*beside, rules[i]) + " |" : "");
  }
  return s;
}

// Where both folders decide a cell: how many agree, and each disagreement.
std::string agreement_md(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results,
                         const Beside& b) {
  int both = 0;
  std::vector<std::string> differ;
  for (std::size_t i = 0; i < rules.size(); ++i)
    for (const auto& c : results[i].comparisons) {
      const BesideCell* o = b.find(rules[i].id, c.treatment);
      if (!o) continue;
      const Agreement a = agreement(c.verdict, o->verdict);
      if (a == Agreement::not_both_decided) continue;
      ++both;
      if (a == Agreement::disagree)
        differ.push_back(fmt::format("{} `{}`: {} here, {} in the {} profile", rules[i].id, c.treatment,
                                     verdict_name(c.verdict), verdict_name(o->verdict), b.profile));
    }
  std::string s = fmt::format("\nCells decided (supported or not supported) both here and in the {} profile: {}; "
                              "they agree in {}", b.profile, both, both - int(differ.size()));
  if (differ.empty()) return s + ".\n";
  s += fmt::format(" and differ in {}:\n\n", differ.size());
  for (const auto& d : differ) s += "- " + d + "\n";
  return s;
}

std::string beside_cell_md(const Beside& b, const ClaimRule& r, const Comparison& c) {
  const BesideCell* o = b.find(r.id, c.treatment);
  if (!o) return "-";
  const std::string mark = agreement(c.verdict, o->verdict) == Agreement::disagree ? " **differs**" : "";
  return fmt::format("{} (n={}, {}){}", verdict_name(o->verdict), o->n, signed_num(o->mean), mark);
}

std::string claim_section_md(const ClaimRule& c, const ClaimResult& res, const RuleStatus* status,
                             const ClaimWorkload* work, const Beside* beside) {
  std::string s = fmt::format("\n## {}\n\n**Claim:** {}\n\n**Source:** {}\n\n**Rule:** {}\n\n**Verdict: {}**{}\n\n",
                              c.id, c.statement, c.source, c.text, verdict_text(res),
                              res.note.empty() ? "" : " (" + res.note + ")");
  if (status) s += registration_md(c, *status);
  if (work) s += workload_md(*work);
  std::string what;
  const char* rel = c.relative == Relative::ratio ? "; differences are ratios minus 1"
                    : c.relative == Relative::log ? "; differences are log ratios, ln(treatment / control)"
                                                  : "";
  if (c.metric == Metric::largest_stable_lr) what = fmt::format(" (log10 of the learning rate{})", rel);
  else if (c.metric == Metric::value || c.metric == Metric::spread)
    what = fmt::format(" ({} `{}` of {}{}{})", c.columns.empty() ? "column" : "columns",
                       c.columns.empty() ? c.column : fmt::format("{}", fmt::join(c.columns, "`, `")), c.file,
                       c.columns.empty() ? "" : ", each its own cells", rel);
  else if (*rel) what = fmt::format(" ({})", rel + 2);
  s += fmt::format("Metric `{}`{} per {} and seed (mean over seeds):\n\n| {} | metric |\n|---|---:|\n",
                   metric_name(c.metric), what, c.by, c.by);
  for (const auto& norm : natural_order(res.metric)) {
    const auto& seeds = res.metric.at(norm);
    double m = 0;
    for (const auto& [sd, v] : seeds) m += v / double(seeds.size());
    s += fmt::format("| {} | {:.4g} |\n", norm, m);
  }
  s += "\n| cell: treatment vs " + c.control + " | n | mean | 95% interval (method) | per-seed differences | "
       "decision | after Holm | plateau (best arm) |" + (beside ? " " + beside->profile + " profile |" : "") +
       "\n|---|---:|---:|---|---|---|---|---|" + (beside ? "---|" : "") + "\n";
  for (const auto& cmp : res.comparisons) {
    std::string d;
    for (double v : cmp.diffs) d += (d.empty() ? "" : ", ") + signed_num(v);
    // An effect control (rule.positive-control = { effect = ... }) has a margin of its own.
    const std::string control_text =
        !cmp.positive_control                ? ""
        : cmp.cell_rule.margin != c.margin ? fmt::format(" (positive control: above {})", cmp.cell_rule.margin)
                                           : " (positive control)";
    s += fmt::format("| {}{} | {} | {} | [{}, {}] ({}) | {} | {} | {} | {} |{}\n", cmp.treatment,
                     control_text, cmp.diffs.size(), signed_num(cmp.mean),
                     signed_num(cmp.ci_low), signed_num(cmp.ci_high), method_text(cmp), d,
                     cell_text(cmp.unadjusted, cmp.unadjusted_why, cmp, cmp.cell_rule.margin),
                     cell_text(cmp.verdict, cmp.why, cmp, cmp.cell_rule.margin), plateau_text(cmp),
                     beside ? " " + beside_cell_md(*beside, c, cmp) + " |" : "");
  }
  const std::string data = c.measure == "step-time" ? "timings.csv" : "runs.csv";
  s += fmt::format("\nData: [{0}/{1}]({0}/{1}); figures: [{0}/report.md]({0}/report.md).\n", c.id, data);
  return s;
}

}  // namespace

std::string claims_md(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results,
                      const std::string& profile, const std::vector<RuleStatus>& status,
                      const std::vector<ClaimWorkload>& work, const Beside* beside) {
  std::string s = header_md(profile) + verdict_table_md(rules, results, work, beside);
  if (beside) s += agreement_md(rules, results, *beside);
  s += "\nEvery cell of every claim, its mean difference with its 95% interval, against its margin "
       "(dashed; both ends of an equivalence margin) and zero, in the units of each claim's panel "
       "(more cells than fit one page continue in forest-2.png, ...; report.html shows every page):"
       "\n\n![forest plot of every cell](forest.png)\n";
  for (std::size_t i = 0; i < rules.size(); ++i)
    s += claim_section_md(rules[i], results[i], status.empty() ? nullptr : &status[i],
                          work.empty() ? nullptr : &work[i], beside);
  return s;
}

}  // namespace normlab
