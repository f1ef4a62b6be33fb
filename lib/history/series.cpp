// Series from history records and their summaries (history/series.h).
#include "history/series.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "bench/gate.h"

namespace normlab {

std::vector<Series> build_series(const std::vector<Record>& records, const std::string& case_pattern,
                                 const std::string& claim_id) {
  const bool speed = case_pattern.size() || claim_id.empty(), claims = claim_id.size() || case_pattern.empty();
  std::map<std::string, Series> by_name;  // records come in commit order, so points do too
  for (const auto& r : records) {
    if (r.kind == RecordKind::bench && speed)
      for (const auto& [name, reps] : r.cases) {
        if (name.rfind("probe/", 0) == 0 || name.find(case_pattern) == std::string::npos) continue;
        Series& s = by_name[name + " @ " + r.machine];
        s.kind = SeriesKind::speed;
        s.name = name + " @ " + r.machine;
        s.machine = r.machine;
        s.points.push_back({r.commit, r.date, median_of(reps), reps, "", 0});
      }
    if (r.kind == RecordKind::claims && claims)
      for (const auto& c : r.cells) {
        if ((!claim_id.empty() && c.claim != claim_id) || !std::isfinite(c.mean)) continue;
        const std::string key = c.claim + " | " + (c.cell.empty() ? "(claim)" : c.cell);
        Series& s = by_name[key];
        s.kind = SeriesKind::claim;
        s.name = key;
        s.tolerance = c.tolerance;
        s.points.push_back({r.commit, r.date, c.mean, {}, c.decision, (c.ci_high - c.ci_low) / 2});
      }
  }
  std::vector<Series> out;
  for (auto& [k, s] : by_name) out.push_back(std::move(s));
  return out;
}

namespace {

// Noise sd of one series value (see series.h).
double series_sigma(const Series& s, const std::vector<double>& x) {
  std::vector<double> se;
  for (const auto& p : s.points) {
    if (s.kind == SeriesKind::speed && p.repeats.size() >= 2) {
      std::vector<double> l;
      for (double v : p.repeats) l.push_back(std::log(v));
      const double m = median_of(l);
      for (auto& v : l) v = std::abs(v - m);
      se.push_back(1.2533 * 1.4826 * median_of(l) / std::sqrt(double(p.repeats.size())));
    }
    if (s.kind == SeriesKind::claim && std::isfinite(p.half_width) && p.half_width > 0) se.push_back(p.half_width / 1.96);
  }
  const double within = se.empty() ? 0 : median_of(se);
  return s.kind == SeriesKind::speed ? std::max(within, successive_sigma(x)) : within;
}

}  // namespace

SeriesSummary summarize(const Series& s, double threshold, const ChangePointOptions& opt) {
  SeriesSummary out;
  std::vector<double> x;
  for (const auto& p : s.points) x.push_back(s.kind == SeriesKind::speed ? std::log(p.value) : p.value);
  out.last = s.points.back().value;
  ChangePointOptions o = opt;
  o.sigma = series_sigma(s, x);
  std::size_t last_start = 0;
  for (const auto& cp : o.sigma > 0 ? detect_change_points(x, o) : std::vector<ChangePoint>{}) {
    Step st;
    st.commit = s.points[cp.index].commit;
    st.confidence = cp.confidence;
    st.size = s.kind == SeriesKind::speed ? std::exp(cp.after - cp.before) - 1 : cp.after - cp.before;
    st.regression = s.kind == SeriesKind::speed ? st.size > threshold
                                                : std::isfinite(s.tolerance) && std::abs(st.size) > s.tolerance;
    if (st.regression)
      out.regressions.push_back(fmt::format("commit {}: {} {} ({:.0f}% confidence)", st.commit, s.name,
                                            s.kind == SeriesKind::speed
                                                ? fmt::format("slower by {:.1f}%", 100 * st.size)
                                                : fmt::format("mean moved by {:+.4g}, beyond tolerance {:.4g}",
                                                              st.size, s.tolerance),
                                            100 * st.confidence));
    out.steps.push_back(st);
    last_start = cp.index;
  }
  // A claim step too small or too noisy for PELT still counts when it exceeds the tolerance.
  for (std::size_t i = 1; i < s.points.size() && s.kind == SeriesKind::claim; ++i) {
    const auto &a = s.points[i - 1], &b = s.points[i];
    if (a.decision != b.decision)
      out.regressions.push_back(fmt::format("commit {}: {} decision changed: {} -> {}", b.commit, s.name,
                                            a.decision, b.decision));
    else if (std::isfinite(s.tolerance) && std::abs(b.value - a.value) > s.tolerance &&
             std::none_of(out.steps.begin(), out.steps.end(), [&](const Step& st) { return st.commit == b.commit; }))
      out.regressions.push_back(fmt::format("commit {}: {} mean moved by {:+.4g}, beyond tolerance {:.4g}",
                                            b.commit, s.name, b.value - a.value, s.tolerance));
  }
  const std::vector<double> tail(x.begin() + long(last_start), x.end());
  const double slope = theil_sen_slope(tail);
  out.trend = s.kind == SeriesKind::speed ? std::exp(slope) - 1 : slope;
  return out;
}

}  // namespace normlab
