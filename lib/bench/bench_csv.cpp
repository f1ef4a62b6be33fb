// Reading a bench CSV (format in bench/bench_csv.h).
#include "bench/bench_csv.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "core/errors.h"
#include "core/parse_number.h"
#include "results/csv_table.h"

namespace normlab {

namespace {

std::vector<double> parse_repeats(const std::string& text, const std::string& where) {
  std::vector<double> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(';', start), text.size());
    const double v = parse_finite(text.substr(start, end - start), where, "times in seconds > 0, joined by ';'");
    if (!(v > 0)) throw ConfigError(fmt::format("{}: {} (allowed: times in seconds > 0, joined by ';')", where, v));
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<BenchCase> read_bench_csv(const std::string& path) {
  const CsvTable t = read_csv(path);
  if (t.header.size() < 3 || t.header[0] != "suite" || t.header[1] != "name" || t.header[2] != "median_s")
    throw ConfigError(fmt::format("{}: not a bench CSV (header must start with suite,name,median_s)", path));
  bool has_repeats = false;
  for (const auto& h : t.header) has_repeats |= h == "repeats_s";
  std::vector<BenchCase> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    BenchCase c;
    c.suite = t.at(i, "suite");
    c.name = t.at(i, "name");
    if (c.name.empty() || !names.insert(c.name).second)
      throw ConfigError(fmt::format("{}: data row {}, column 'name': '{}' {} (allowed: one row per case)", path, i + 1,
                                    c.name, c.name.empty() ? "is empty" : "twice"));
    c.median_s = t.num(i, "median_s");
    if (!(std::isfinite(c.median_s) && c.median_s > 0))
      throw ConfigError(fmt::format("{}: data row {}, column 'median_s': {} (allowed: a time in seconds > 0)", path,
                                    i + 1, t.at(i, "median_s")));
    const std::string where = fmt::format("{}: data row {}, column 'repeats_s'", path, i + 1);
    c.repeats_s = has_repeats ? parse_repeats(t.at(i, "repeats_s"), where) : std::vector<double>{c.median_s};
    c.gb_per_s = t.num(i, "gb_per_s");
    c.min_s = t.num(i, "min_s");
    c.samples_per_s = t.num(i, "samples_per_s");
    c.gflop_per_s = t.num(i, "gflop_per_s");
    out.push_back(std::move(c));
  }
  if (out.empty()) throw ConfigError(fmt::format("{}: no cases (a bench CSV has one row per case)", path));
  bool triad = names.count("probe/triad"), sgemm = false;
  for (const auto& n : names) sgemm |= n.rfind("probe/sgemm", 0) == 0;
  if (!triad || !sgemm)
    throw ConfigError(fmt::format("{}: no {} row (a bench CSV holds the machine probes probe/triad and "
                                  "probe/sgemm-*, which every run of `normlab bench` writes)",
                                  path, triad ? "probe/sgemm-*" : "probe/triad"));
  return out;
}

double probe_scale(const std::vector<BenchCase>& cases) {
  double tri = 1, sg = 1;
  for (const auto& c : cases) {
    if (c.name == "probe/triad") tri = c.median_s;
    if (c.name.rfind("probe/sgemm", 0) == 0) sg = c.median_s;
  }
  return std::sqrt(tri * sg);
}

}  // namespace normlab
