// Claim rules: per-(norm, seed) metrics from runs.csv, paired differences
// across seeds, and the verdict (definitions in rule.h):
//   m_g(s)   the metric of group g (value of `by` [@ each combination]) in seed s;
//            with contrast = { k = [a, b] }, m_g(s) = m_{g,k=a}(s) - m_{g,k=b}(s)
//   d_s      m_t(s) - m_c(s) | m_t(s) / m_c(s) - 1 | ln(m_t(s) / m_c(s)), negated for "less"
#include "claims/rule.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <cmath>
#include <set>
#include <toml++/toml.h>

#include "claims/paired_interval.h"
#include "core/errors.h"
#include "train/config_file.h"

namespace normlab {

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::largest_stable_lr: return "largest_stable_lr";
    case Metric::lr_range: return "lr_range";
    case Metric::value: return "value";
    case Metric::spread: return "spread";
    case Metric::steps_to_target: return "steps_to_target";
    case Metric::activation_drift: return "activation_drift";
    case Metric::count: break;
  }
  return "";
}

MetricKind metric_kind(const ClaimRule& rule) {
  const bool rate = rule.column.size() > 5 && rule.column.ends_with("_rate");
  switch (rule.metric) {
    case Metric::largest_stable_lr:
    case Metric::lr_range: return MetricKind::grid;
    case Metric::steps_to_target: return MetricKind::steps;
    case Metric::value:
    case Metric::spread: return rate ? MetricKind::rate : MetricKind::continuous;
    case Metric::activation_drift:
    case Metric::count: break;
  }
  return MetricKind::continuous;
}

const char* direction_name(Direction d) { return d == Direction::greater ? "greater" : "less"; }
const char* split_name(SelectOn s) { return s == SelectOn::val ? "val" : "test"; }

bool same_value(const std::string& have, const std::string& want) {
  // Compare as numbers when both parse (2 == 2.0), else as text.
  try {
    return std::stod(have) == std::stod(want);
  } catch (const std::exception&) {
    return have == want;
  }
}

namespace {

bool is_hash(const std::string& h) {
  return h.size() == 16 && std::all_of(h.begin(), h.end(), [](char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); });
}

bool is_date(const std::string& d) {
  return d.size() == 10 && d[4] == '-' && d[7] == '-' &&
         std::all_of(d.begin(), d.end(), [](char c) { return std::isdigit(c) || c == '-'; });
}

// [[amendment]] entries: every key typed, none unknown, none missing.
std::vector<Amendment> read_amendments(const toml::table& t, const std::string& path) {
  std::vector<Amendment> out;
  const toml::node* node = t.get("amendment");
  if (!node) return out;
  const auto where = [&](const toml::node& n) {
    return fmt::format("{}:{}:{}", path, n.source().begin.line, n.source().begin.column);
  };
  const auto* arr = node->as_array();
  if (!arr || !arr->is_array_of_tables())
    throw ConfigError(fmt::format("{}: amendment: write each amendment as an [[amendment]] table (keys: date, what, "
                                  "why, replaced, from_hash, to_hash)", where(*node)));
  static const char* keys[] = {"date", "what", "why", "replaced", "from_hash", "to_hash"};
  for (const auto& e : *arr) {
    const auto& tb = *e.as_table();
    for (const auto& [k, v] : tb)
      if (std::none_of(std::begin(keys), std::end(keys), [&](const char* a) { return k.str() == a; }))
        throw ConfigError(fmt::format("{}: [[amendment]] has no key '{}' (allowed: {})", where(v), k.str(),
                                      fmt::join(keys, ", ")));
    std::map<std::string, std::string> got;
    for (const char* k : keys) {
      const toml::node* v = tb.get(k);
      if (!v)
        throw ConfigError(fmt::format("{}: [[amendment]] needs `{}` (keys: {})", where(e), k, fmt::join(keys, ", ")));
      if (const auto* d = v->as_date(); d && std::string(k) == "date")
        got[k] = fmt::format("{:04}-{:02}-{:02}", d->get().year, d->get().month, d->get().day);
      else if (const auto* s = v->as_string(); s && !s->get().empty())
        got[k] = s->get();
      else
        throw ConfigError(fmt::format("{}: amendment.{}: {} (expected {})", where(*v), k, toml_value_text(*v, path),
                                      std::string(k) == "date" ? "a date, YYYY-MM-DD" : "a non-empty string"));
    }
    if (!is_date(got["date"]))
      throw ConfigError(fmt::format("{}: amendment.date: '{}' (expected YYYY-MM-DD)", where(*tb.get("date")), got["date"]));
    for (const char* k : {"from_hash", "to_hash"})
      if (!is_hash(got[k]))
        throw ConfigError(fmt::format("{}: amendment.{}: '{}' (expected a rule hash: 16 hex digits, as "
                                      "`normlab claims --rule-hashes` prints)", where(*tb.get(k)), k, got[k]));
    out.push_back({got["date"], got["what"], got["why"], got["replaced"], got["from_hash"], got["to_hash"]});
  }
  return out;
}

bool parse_metric(const std::string& text, Metric& out) {
  for (int i = 0; i < int(Metric::count); ++i)
    if (text == metric_name(Metric(i))) {
      out = Metric(i);
      return true;
    }
  return false;
}

// Typed reads of one table's optional keys: a key given with the wrong type is an error naming
// file:line:col, the key and the type it takes; it is never read as absent (its default).
struct TableReader {
  const toml::table& tb;
  const char* name;  // "claim" or "rule"
  const std::string& path;

  static const char* type_of(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a number";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "a list";
      case toml::node_type::table: return "a table";
      default: return "a date or time";
    }
  }
  ConfigError wrong(const toml::node& n, const char* k, const char* want) const {
    return ConfigError(fmt::format("{}:{}:{}: {}.{}: {} is {}, not {}", path, n.source().begin.line,
                                   n.source().begin.column, name, k, toml_value_text(n, path), type_of(n), want));
  }
  std::optional<std::string> str(const char* k) const {
    const toml::node* n = tb.get(k);
    if (!n) return std::nullopt;
    if (auto v = n->value_exact<std::string>()) return *v;
    throw wrong(*n, k, "a string");
  }
  std::optional<double> num(const char* k) const {
    const toml::node* n = tb.get(k);
    if (!n) return std::nullopt;
    if (n->is_integer() || n->is_floating_point()) return n->value<double>();
    throw wrong(*n, k, "a number");
  }
  std::optional<long> integer(const char* k) const {
    const toml::node* n = tb.get(k);
    if (!n) return std::nullopt;
    if (auto v = n->value_exact<int64_t>()) return long(*v);
    throw wrong(*n, k, "an integer");
  }
  std::optional<bool> boolean(const char* k) const {
    const toml::node* n = tb.get(k);
    if (!n) return std::nullopt;
    if (auto v = n->value_exact<bool>()) return *v;
    throw wrong(*n, k, "true or false");
  }
  // A list of strings, or (one_ok) a single string; nullopt when the key is absent.
  std::optional<std::vector<std::string>> strings(const char* k, bool one_ok) const {
    const toml::node* n = tb.get(k);
    if (!n) return std::nullopt;
    if (one_ok)
      if (auto v = n->value_exact<std::string>()) return std::vector<std::string>{*v};
    const auto* arr = n->as_array();
    if (!arr) throw wrong(*n, k, one_ok ? "a string or a list of strings" : "a list of strings");
    std::vector<std::string> out;
    for (const auto& e : *arr) {
      auto v = e.value_exact<std::string>();
      if (!v) throw wrong(e, k, "a string (in the list)");
      out.push_back(*v);
    }
    return out;
  }
};

// column: one name, or a list of two or more distinct names (one set of cells per column), for
// the metrics that read a column.
void read_columns(const std::vector<std::string>& cs, ClaimRule& r, const std::string& path) {
  if (cs.empty() || std::any_of(cs.begin(), cs.end(), [](const std::string& c) { return c.empty(); }))
    throw ConfigError(fmt::format("{}: rule.column: needs a column name, or a list of two or more", path));
  for (std::size_t i = 0; i < cs.size(); ++i)
    if (std::find(cs.begin(), cs.begin() + long(i), cs[i]) != cs.begin() + long(i))
      throw ConfigError(fmt::format("{}: rule.column: '{}' is listed twice", path, cs[i]));
  r.column = cs[0];
  if (cs.size() == 1) return;
  if (r.metric != Metric::value && r.metric != Metric::spread)
    throw ConfigError(fmt::format("{}: rule.column: a list of columns needs metric value or spread (metric {} "
                                  "reads no column)", path, metric_name(r.metric)));
  r.columns = cs;
}

// positive-control = { effect = ARM, margin = M }: the contrast's own effect on one arm.
ClaimRule::EffectControl read_effect_control(const toml::table& tb, const ClaimRule& r, const std::string& path) {
  const TableReader rd{tb, "rule.positive-control", path};
  for (const auto& [k, v] : tb)
    if (k.str() != "effect" && k.str() != "margin")
      throw ConfigError(fmt::format("{}: rule.positive-control: key '{}' beside `effect` (allowed: effect, margin)",
                                    path, k.str()));
  if (r.contrast.empty())
    throw ConfigError(fmt::format("{}: rule.positive-control: `effect` is the contrast's effect on one arm, and "
                                  "the rule has no `contrast`", path));
  if (r.relative != Relative::none)
    throw ConfigError(fmt::format("{}: rule.positive-control: `effect` needs relative = false (its d is the "
                                  "arm's own contrast, m(a) - m(b))", path));
  ClaimRule::EffectControl e;
  e.arm = *rd.str("effect");
  std::vector<std::string> arms = r.treatment;
  arms.push_back(r.control);
  if (std::find(arms.begin(), arms.end(), e.arm) == arms.end())
    throw ConfigError(fmt::format("{}: rule.positive-control: effect = '{}' is not an arm of the rule (allowed: {})",
                                  path, e.arm, fmt::join(arms, ", ")));
  const auto m = rd.num("margin");
  if (!m || !(*m >= 0) || !std::isfinite(*m))
    throw ConfigError(fmt::format("{}: rule.positive-control: `effect` needs margin = a number >= 0 (the effect "
                                  "the setting must show){}", path, m ? fmt::format(", got {}", *m) : ""));
  e.margin = *m;
  return e;
}
}  // namespace

// contrast-relative = "log": the contrast as a log ratio. Only for a contrast of "value"
// metrics, whose values are plain numbers (no bounds, no censoring).
void read_contrast_relative(const toml::table& rule, const std::string& path, ClaimRule& r) {
  const auto* node = rule["contrast-relative"].node();
  if (!node) return;
  const auto v = node->value_exact<std::string>();
  if (!v || *v != "log")
    throw ConfigError(fmt::format("{}:{}:{}: rule.contrast-relative: allowed: \"log\" (the group's metric is "
                                  "ln(m(a) / m(b))); leave it out for m(a) - m(b)", path, node->source().begin.line,
                                  node->source().begin.column));
  if (r.contrast.empty())
    throw ConfigError(fmt::format("{}: rule.contrast-relative: the rule has no `contrast`", path));
  if (r.metric != Metric::value)
    throw ConfigError(fmt::format("{}: rule.contrast-relative: needs metric = \"value\" (a runs.csv column), "
                                  "got \"{}\"", path, metric_name(r.metric)));
  if (r.relative != Relative::none)
    throw ConfigError(fmt::format("{}: rule.contrast-relative: needs relative = false (d is then the treatment's "
                                  "log ratio minus the control's; a ratio of log ratios has no sign to read)", path));
  r.contrast_log = true;
}

ClaimRule read_claim_rule(const std::string& path) {
  const toml::table t = read_toml_file(path);
  ClaimRule r;
  const auto* claim = t["claim"].as_table();
  const auto* rule = t["rule"].as_table();
  if (!claim || !rule) throw ConfigError(fmt::format("{}: needs [claim] and [rule] tables", path));
  // Unknown keys are errors: an experiment key written below [rule] would
  // otherwise silently leave the experiment.
  auto only = [&](const toml::table& tb, const char* name, std::initializer_list<const char*> allowed) {
    for (const auto& [k, v] : tb) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || k.str() == a;
      if (!ok)
        throw ConfigError(fmt::format("{}:{}:{}: [{}] has no key '{}' (allowed: {}); experiment keys go "
                                      "above [claim]", path, v.source().begin.line, v.source().begin.column,
                                      name, k.str(), fmt::join(allowed, ", ")));
    }
  };
  only(*claim, "claim", {"id", "statement", "source", "measure"});
  only(*rule, "rule", {"metric", "column", "file", "relative", "over", "select", "where", "by", "each", "treatment",
                       "control", "direction", "margin", "floor", "within", "fraction", "tolerance", "text",
                       "select-on", "contrast", "contrast-relative", "equivalence", "positive-control",
                       "edge-seeds"});
  const TableReader cl{*claim, "claim", path}, ru{*rule, "rule", path};
  auto str = [&](const toml::table& tb, const char* k, bool required) {
    const TableReader& rd = &tb == claim ? cl : ru;
    auto v = rd.str(k);
    if (!v && required) throw ConfigError(fmt::format("{}: [{}] needs `{}`", path, rd.name, k));
    return v.value_or("");
  };
  r.id = str(*claim, "id", true);
  r.statement = str(*claim, "statement", true);
  r.source = str(*claim, "source", false);
  r.measure = cl.str("measure").value_or("training");
  if (r.measure != "training" && r.measure != "step-time")
    throw ConfigError(fmt::format("{}: claim.measure: '{}' (allowed: training, step-time)", path, r.measure));
  r.file = ru.str("file").value_or(r.measure == "step-time" ? "timings.csv" : "runs.csv");
  if (r.file != "runs.csv" && r.file != "batchstats.csv" && r.file != "timings.csv")
    throw ConfigError(fmt::format("{}: rule.file: '{}' (allowed: runs.csv, batchstats.csv, timings.csv)", path, r.file));
  // A bool (the original form) or the text "log".
  if (const auto* rel = (*rule)["relative"].node()) {
    if (auto b = rel->value_exact<bool>()) r.relative = *b ? Relative::ratio : Relative::none;
    else if (rel->value_exact<std::string>() == "log") r.relative = Relative::log;
    else
      throw ConfigError(fmt::format("{}:{}:{}: rule.relative: '{}' (allowed: true, false, \"log\")", path,
                                    rel->source().begin.line, rel->source().begin.column, toml_value_text(*rel, path)));
  }
  // A run key (any spelling), or a column of rule.file, checked when the file is read.
  auto key = [&](const std::string& k) {
    try {
      return canonical_key(k, path);
    } catch (const ConfigError&) {
      if (r.file == "runs.csv") throw;
      return k;
    }
  };
  const std::string metric = str(*rule, "metric", true);
  if (!parse_metric(metric, r.metric))
    throw ConfigError(fmt::format("{}: rule.metric: '{}' (allowed: largest_stable_lr, lr_range, value, "
                                  "spread, steps_to_target, activation_drift)", path, metric));
  if (auto cs = ru.strings("column", true)) read_columns(*cs, r, path);
  r.over = str(*rule, "over", r.metric == Metric::spread);
  const std::string select = ru.str("select").value_or("mean");
  if (select != "mean" && select != "best-lr")
    throw ConfigError(fmt::format("{}: rule.select: '{}' (allowed: mean, best-lr)", path, select));
  r.select = select == "best-lr" ? Select::best_lr : Select::mean;
  const std::string select_on = ru.str("select-on").value_or("test");
  if (select_on != "test" && select_on != "val")
    throw ConfigError(fmt::format("{}: rule.select-on: '{}' (allowed: test, val)", path, select_on));
  r.select_on = select_on == "val" ? SelectOn::val : SelectOn::test;
  if (auto b = ru.str("by")) r.by = key(*b);
  for (const auto& e : ru.strings("each", false).value_or(std::vector<std::string>{})) r.each.push_back(key(e));
  if (const auto* node = (*rule)["contrast"].node()) {
    const auto* c = node->as_table();
    const toml::array* vals = c && c->size() == 1 ? c->cbegin()->second.as_array() : nullptr;
    if (!vals || vals->size() != 2)
      throw ConfigError(fmt::format("{}:{}:{}: rule.contrast: needs exactly one key with two values, e.g. "
                                    "contrast = {{ batch-size = [2, 32] }}", path, node->source().begin.line,
                                    node->source().begin.column));
    r.contrast = key(std::string(c->cbegin()->first.str()));
    r.contrast_values = {toml_value_text((*vals)[0], path), toml_value_text((*vals)[1], path)};
    if (r.contrast == r.by || std::find(r.each.begin(), r.each.end(), r.contrast) != r.each.end())
      throw ConfigError(fmt::format("{}: rule.contrast: key '{}' is also {}; the contrast is taken within a "
                                    "group, so it must differ from `by` and the `each` keys", path, r.contrast,
                                    r.contrast == r.by ? "`by`" : "in `each`"));
    if (same_value(r.contrast_values[0], r.contrast_values[1]))
      throw ConfigError(fmt::format("{}: rule.contrast: key '{}' has the same value twice ('{}', '{}')", path,
                                    r.contrast, r.contrast_values[0], r.contrast_values[1]));
  }
  read_contrast_relative(*rule, path, r);
  r.text = str(*rule, "text", true);
  r.control = str(*rule, "control", true);
  const std::string direction = str(*rule, "direction", true);
  if (direction != "greater" && direction != "less")
    throw ConfigError(fmt::format("{}: rule.direction: '{}' (allowed: greater, less)", path, direction));
  r.direction = direction == "greater" ? Direction::greater : Direction::less;
  if (auto tr = ru.strings("treatment", true)) r.treatment = *tr;
  else
    r.treatment.push_back(str(*rule, "treatment", true));
  if (const auto* w = (*rule)["where"].as_table())
    for (const auto& [k, v] : *w) {
      auto& vals = r.where[key(std::string(k.str()))];
      if (const auto* arr = v.as_array())
        for (const auto& e : *arr) vals.push_back(toml_value_text(e, path));
      else
        vals.push_back(toml_value_text(v, path));
    }
  r.margin = ru.num("margin").value_or(0.0);
  r.floor = ru.num("floor").value_or(0.0);
  r.within = ru.num("within").value_or(0.02);
  r.fraction = ru.num("fraction").value_or(0.95);
  r.tolerance = ru.num("tolerance").value_or(r.margin / 2);
  r.equivalence = ru.boolean("equivalence").value_or(false);
  r.edge_seeds = int(ru.integer("edge-seeds").value_or(1));
  if (r.edge_seeds < 0)
    throw ConfigError(fmt::format("{}: rule.edge-seeds: {} (allowed: an integer >= 0, the seeds per arm whose "
                                  "selected lr may sit at the grid's edge in a decided cell)", path, r.edge_seeds));
  if (const auto* node = (*rule)["positive-control"].node()) {
    std::vector<const toml::table*> tables;
    if (const auto* one = node->as_table()) tables.push_back(one);
    if (const auto* arr = node->as_array())
      for (const auto& e : *arr) tables.push_back(e.as_table());
    if (tables.empty()) tables.push_back(nullptr);  // neither a table nor a list
    for (const auto* tb : tables) {
      if (!tb || tb->empty())
        throw ConfigError(fmt::format("{}:{}:{}: rule.positive-control: needs a table of `each` keys and values "
                                      "(or a list of them), e.g. positive-control = {{ model = \"mlp\" }}", path,
                                      node->source().begin.line, node->source().begin.column));
      if (tb->contains("effect")) {
        r.effect_controls.push_back(read_effect_control(*tb, r, path));
        continue;
      }
      auto& cell = r.positive_control.emplace_back();
      for (const auto& [k, v] : *tb) {
        const std::string kk = key(std::string(k.str()));
        if (std::find(r.each.begin(), r.each.end(), kk) == r.each.end())
          throw ConfigError(fmt::format("{}: rule.positive-control: key '{}' is not in `each` (allowed: {})", path,
                                        kk, fmt::join(r.each, ", ")));
        cell[kk] = toml_value_text(v, path);
      }
    }
  }
  if (r.equivalence && !(r.margin > 0))
    throw ConfigError(fmt::format("{}: rule.equivalence needs a margin > 0 (the equivalence bounds are "
                                  "+-margin), got {}", path, r.margin));
  r.amendments = read_amendments(t, path);
  return r;
}

namespace {

// Early-stopped columns (es_test_acc, es_test_loss): run_id -> test accuracy and loss at the
// evaluation where the selection split's accuracy was best (the first such).
using Stopped = std::map<std::string, std::array<double, 2>>;

bool early_stopped(const std::string& col) { return col == "es_test_acc" || col == "es_test_loss"; }

}  // namespace

std::string reads_test_curves(const ClaimRule& rule) {
  if (rule.metric == Metric::steps_to_target) return "metric steps_to_target";
  if (rule.measure == "training" && rule.select_on == SelectOn::test)
    return "select-on test (the plateau reads the selection split's curve)";
  std::vector<std::string> cols = rule.columns;
  if (cols.empty()) cols.push_back(rule.column);
  for (const auto& c : cols)
    if (early_stopped(c) || c == "best_test_acc") return "column " + c;
  return "";
}

namespace {

// gap_acc and gap_loss are defined for runs that ended ok and not collapsed
// (as in the reports); another run's gap is NaN, which leaves its cell undecided.
// es_*: from `stopped`; a run without curves is NaN.
double column_value(const CsvTable& t, std::size_t row, const std::string& col, const Stopped& stopped) {
  if (early_stopped(col)) {
    const auto it = stopped.find(t.at(row, "run_id"));
    return it == stopped.end() ? std::nan("") : it->second[col == "es_test_acc" ? 0 : 1];
  }
  const bool gap = col == "gap_acc" || col == "gap_loss";
  if (gap && !(t.at(row, "status") == "ok" && t.at(row, "failure").empty())) return std::nan("");
  if (col == "gap_acc") return t.num(row, "final_train_acc") - t.num(row, "final_test_acc");
  if (col == "gap_loss") return t.num(row, "final_test_loss") - t.num(row, "final_train_loss");
  return t.num(row, col);
}

bool matches(const CsvTable& t, std::size_t row, const std::map<std::string, std::vector<std::string>>& where) {
  for (const auto& [k, allowed] : where) {
    const std::string& have = t.at(row, k);
    if (std::none_of(allowed.begin(), allowed.end(), [&](const std::string& v) { return same_value(have, v); }))
      return false;
  }
  return true;
}

// acc: the accuracy column selection reads (final_test_acc or final_val_acc).
bool stable(const CsvTable& t, std::size_t row, double floor, const std::string& acc) {
  return t.at(row, "status") == "ok" && t.at(row, "failure").empty() && t.num(row, acc) >= floor;
}

// A split's accuracy curve per run: run_id -> (step, accuracy) in file order.
std::map<std::string, std::vector<std::pair<long, double>>> accuracy_curves(const CsvTable& curves,
                                                                             const std::string& split) {
  std::map<std::string, std::vector<std::pair<long, double>>> out;
  for (std::size_t i = 0; i < curves.rows.size(); ++i)
    if (curves.at(i, "split") == split)
      out[curves.at(i, "run_id")].push_back({curves.integer(i, "step"), curves.num(i, "accuracy")});
  return out;
}

// The first step at which a curve reaches target; censored at budget + 1.
double first_reach(const std::vector<std::pair<long, double>>& curve, double target, double budget) {
  for (const auto& [step, acc] : curve)
    if (acc >= target) return double(step);
  return budget + 1;
}

}  // namespace

CsvTable join_runs(const CsvTable& file, const CsvTable& runs) {
  CsvTable j = file;
  std::map<std::string, std::size_t> row_of;
  for (std::size_t i = 0; i < runs.rows.size(); ++i) row_of[runs.at(i, "run_id")] = i;
  std::vector<int> add;
  for (std::size_t c = 0; c < runs.header.size(); ++c)
    if (std::find(file.header.begin(), file.header.end(), runs.header[c]) == file.header.end()) {
      add.push_back(int(c));
      j.header.push_back(runs.header[c]);
    }
  for (auto& row : j.rows) {
    auto it = row_of.find(row[file.col("run_id")]);
    if (it == row_of.end())
      throw ConfigError(fmt::format("{}: run {} is not in {}", file.path, row[file.col("run_id")], runs.path));
    for (int c : add) row.push_back(runs.rows[it->second][c]);
  }
  return j;
}

// evaluate_claim, as phases: group the rows, select (what selection reads:
// targets, curves, drift), measure each (group, seed), contrast the two sides,
// decide each cell, aggregate the cells into the claim's verdict.
namespace {

using Group = std::pair<std::string, int>;  // (value of `by` [@ each combination], contrast side)
using Rows = std::vector<std::size_t>;

struct Grouping {
  std::map<Group, std::map<long, Rows>> groups;  // (group, side) -> seed -> rows
  std::map<std::string, std::string> combo_of;   // group name -> its each combination
  std::set<std::string> combos;
  std::map<std::string, std::map<std::string, std::string>> combo_values;  // combination -> each key -> value
};

// group: rows by (the compared key's value [@ each combination], contrast side, seed).
// Side 0 without a contrast; with one, 0 for rows at its value a and 1 at b.
Grouping group_rows(const ClaimRule& rule, const CsvTable& t) {
  Grouping g;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    if (!matches(t, i, rule.where)) continue;
    int side = 0;
    if (!rule.contrast.empty()) {
      const std::string& v = t.at(i, rule.contrast);
      if (same_value(v, rule.contrast_values[0])) side = 0;
      else if (same_value(v, rule.contrast_values[1])) side = 1;
      else continue;
    }
    std::string combo;
    for (const auto& k : rule.each) combo += (combo.empty() ? " @ " : ", ") + k + "=" + t.at(i, k);
    g.combos.insert(combo);
    for (const auto& k : rule.each) g.combo_values[combo][k] = t.at(i, k);
    g.combo_of[t.at(i, rule.by) + combo] = combo;
    g.groups[{t.at(i, rule.by) + combo, side}][t.integer(i, "seed")].push_back(i);
  }
  if (g.combos.empty()) g.combos.insert("");
  return g;
}

// What selection reads beyond a group's rows. Selection (stability, best lr,
// near-best range, the target and each group's fastest lr) reads the split
// rule.select_on names; what is reported is test.
struct Selection {
  std::string sel_acc;  // final_<split>_acc
  std::map<std::string, std::vector<std::pair<long, double>>> sel_curve, test_curve;  // run_id -> (step, acc)
  // One target per each-combination (a cell compares arms that share it), so a
  // slow arm of another combination cannot lower this one's target.
  std::map<std::string, double> target;  // combination -> target
  double budget = 0;                      // the most steps any run made
  std::map<std::string, double> drift;    // activation_drift: run_id -> drift
  Stopped stopped;                        // es_* columns: run_id -> test acc, loss at the best evaluation
  double grid_step = 0;  // the smallest step of the lr grid, decades (grid-valued metrics' resolution)
  double eval_step = 0;  // the evaluation interval, steps (step counts' resolution)
};

// The smallest gap between the grid's distinct log10 lrs (0 for one lr).
double lr_grid_step(const CsvTable& t, const Grouping& g) {
  std::set<double> lrs;
  for (const auto& [grp, seeds] : g.groups)
    for (const auto& [seed, rows] : seeds)
      for (auto i : rows) lrs.insert(std::log10(t.num(i, "lr")));
  double step = 0;
  for (auto it = lrs.begin(); it != lrs.end() && std::next(it) != lrs.end(); ++it)
    if (const double gap = *std::next(it) - *it; gap > 1e-9 && (step == 0 || gap < step)) step = gap;
  return step;
}

// The evaluation interval: runs.csv's eval-every, capped by the run length; else the
// smallest gap between a test curve's steps.
double eval_interval(const CsvTable& t, const Selection& sel) {
  double every = 0;
  if (std::find(t.header.begin(), t.header.end(), "eval-every") != t.header.end())
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const double e = std::min(t.num(i, "eval-every"), t.num(i, "steps_done"));
      if (e > 0 && (every == 0 || e < every)) every = e;
    }
  if (every > 0) return every;
  for (const auto& [id, curve] : sel.test_curve)
    for (std::size_t k = 1; k < curve.size(); ++k)
      if (const double gap = double(curve[k].first - curve[k - 1].first); gap > 0 && (every == 0 || gap < every))
        every = gap;
  return every;
}

// steps_to_target: the accuracy curves, and one target per combination derived from the data.
void select_targets(const ClaimRule& rule, const CsvTable& t, const Grouping& g, const CsvTable& curves,
                    Selection& sel, ClaimResult& res) {
  const std::string split = split_name(rule.select_on);
  sel.test_curve = accuracy_curves(curves, "test");
  sel.sel_curve = rule.select_on == SelectOn::test ? sel.test_curve : accuracy_curves(curves, split);
  for (const auto& [grp, seeds] : g.groups) {
    double mean_best = 0;
    for (const auto& [seed, rows] : seeds) {
      double b = 0;
      for (auto i : rows) b = std::max(b, t.num(i, "best_" + split + "_acc"));
      mean_best += b / double(seeds.size());
    }
    auto [it, fresh] = sel.target.emplace(g.combo_of.at(grp.first), rule.fraction * mean_best);
    if (!fresh) it->second = std::min(it->second, rule.fraction * mean_best);
  }
  for (std::size_t i = 0; i < t.rows.size(); ++i) sel.budget = std::max(sel.budget, t.num(i, "steps_done"));
  res.target = INFINITY;
  std::string each_target;
  for (const auto& [combo, v] : sel.target) {
    res.target = std::min(res.target, v);
    if (!combo.empty()) each_target += fmt::format("{}{:.4f}{}", each_target.empty() ? "" : ", ", v, combo);
  }
  if (!res.note.empty()) res.note += "; ";
  if (sel.target.size() > 1)
    res.note += fmt::format("target {} accuracy per combination ({}) = {} x the lowest group's mean best {} "
                            "accuracy in it", split, each_target, rule.fraction, split);
  else
    res.note += fmt::format("target {} accuracy {:.4f} = {} x the lowest group's mean best {} accuracy",
                            split, res.target, rule.fraction, split);
  if (rule.select_on != SelectOn::test) res.note += "; each group's fastest lr chosen on val, its steps read on test";
}

// activation_drift: per run, the percentile path of its last hidden pre-activation layer.
std::map<std::string, double> select_drift(const CsvTable& a) {
  std::map<std::string, int> last_layer;
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    auto& ll = last_layer[a.at(i, "run_id")];
    ll = std::max(ll, int(a.integer(i, "layer")));
  }
  std::map<std::string, std::vector<std::array<double, 3>>> path;  // rows in step order
  for (std::size_t i = 0; i < a.rows.size(); ++i)
    if (a.integer(i, "layer") == last_layer[a.at(i, "run_id")])
      path[a.at(i, "run_id")].push_back({a.num(i, "p15"), a.num(i, "p50"), a.num(i, "p85")});
  std::map<std::string, double> drift;
  for (const auto& [id, p] : path) {
    double moved = 0, spread = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
      spread += (p[k][2] - p[k][0]) / double(p.size());
      if (k > 0)
        for (int q = 0; q < 3; ++q) moved += std::abs(p[k][q] - p[k - 1][q]);
    }
    drift[id] = spread > 0 ? moved / (3 * spread) : 0.0;
  }
  return drift;
}

// Early stopping on the selection split: per run, the test accuracy and loss at the first
// evaluation step whose selection-split accuracy is the run's best.
Stopped stopped_metrics(const CsvTable& curves, const std::string& split) {
  std::map<std::string, std::pair<long, double>> best;  // run_id -> (step, accuracy)
  for (std::size_t i = 0; i < curves.rows.size(); ++i)
    if (curves.at(i, "split") == split) {
      const double acc = curves.num(i, "accuracy");
      const long step = curves.integer(i, "step");
      auto [it, fresh] = best.emplace(curves.at(i, "run_id"), std::make_pair(step, acc));
      if (!fresh && (acc > it->second.second || (acc == it->second.second && step < it->second.first)))
        it->second = {step, acc};
    }
  Stopped out;
  for (std::size_t i = 0; i < curves.rows.size(); ++i)
    if (curves.at(i, "split") == "test")
      if (const auto it = best.find(curves.at(i, "run_id")); it != best.end() && curves.integer(i, "step") == it->second.first)
        out[it->first] = {curves.num(i, "accuracy"), curves.num(i, "loss")};
  return out;
}

// select: the inputs the rule's metric needs; adds the contrast and the target to res.note.
Selection select_inputs(const ClaimRule& rule, const CsvTable& t, const Grouping& g, const CsvTable* curves,
                        const CsvTable* activations, ClaimResult& res) {
  Selection sel;
  sel.sel_acc = std::string("final_") + split_name(rule.select_on) + "_acc";
  if (early_stopped(rule.column)) {  // early stopping: runs compete at their best evaluation
    if (!curves) throw ConfigError(fmt::format("column {} needs curves.csv", rule.column));
    sel.sel_acc = std::string("best_") + split_name(rule.select_on) + "_acc";
    sel.stopped = stopped_metrics(*curves, split_name(rule.select_on));
  }
  if (!rule.contrast.empty())
    res.note = rule.contrast_log
                   ? fmt::format("metric per group: ln({} at {}={} / at {}={})", metric_name(rule.metric),
                                 rule.contrast, rule.contrast_values[0], rule.contrast, rule.contrast_values[1])
                   : fmt::format("metric per group: {} at {}={} minus at {}={}", metric_name(rule.metric),
                                 rule.contrast, rule.contrast_values[0], rule.contrast, rule.contrast_values[1]);
  if (rule.metric == Metric::steps_to_target) {
    if (!curves) throw ConfigError("steps_to_target needs curves.csv");
    select_targets(rule, t, g, *curves, sel, res);
    sel.eval_step = eval_interval(t, sel);
  }
  if (metric_kind(rule) == MetricKind::grid) sel.grid_step = lr_grid_step(t, g);
  if (rule.metric == Metric::activation_drift) {
    if (!activations) throw ConfigError("activation_drift needs activations.csv");
    sel.drift = select_drift(*activations);
  }
  return sel;
}

// measure: one function per metric, each giving one (group, seed)'s metric from its rows.
// A censored metric is known only to lie in [lo, hi]: steps to a target never
// reached are at least the budget; the largest stable lr at the grid's top is at
// least that lr, and with no stable lr below the grid's lowest.
struct MetricValue {
  double v = std::nan("");
  double lo = v, hi = v;  // the bounds; lo = v = hi unless censored
  bool censored = false;
  int edge = 0;           // an optimum selected at the lr grid's edge: 1 bottom, 2 top
};

MetricValue exact(double v) { return {v, v, v, false, 0}; }

// Where row i's lr sits on the rows' lr grid: 1 at the bottom, 2 at the top, 0 inside (or one lr).
int grid_edge(const CsvTable& t, const Rows& rows, std::size_t i) {
  double lo = INFINITY, hi = -INFINITY;
  for (auto r : rows) lo = std::min(lo, t.num(r, "lr")), hi = std::max(hi, t.num(r, "lr"));
  const double lr = t.num(i, "lr");
  return lo == hi ? 0 : lr == lo ? 1 : lr == hi ? 2 : 0;
}

bool has_lr(const CsvTable& t) { return std::find(t.header.begin(), t.header.end(), "lr") != t.header.end(); }

struct MetricInput {
  const ClaimRule& rule;
  const CsvTable& t;
  const Selection& sel;
  const std::string& combo;  // the group's each combination
  const Rows& rows;          // the group's rows in one seed (one contrast side)
};

// log10 of the largest lr whose run is stable; no stable lr at all: one decade below the grid.
MetricValue metric_largest_stable_lr(const MetricInput& in) {
  double best = -INFINITY, lowest = INFINITY, highest = -INFINITY;
  for (auto i : in.rows) {
    const double lr = in.t.num(i, "lr");
    lowest = std::min(lowest, lr);
    highest = std::max(highest, lr);
    if (stable(in.t, i, in.rule.floor, in.sel.sel_acc)) best = std::max(best, lr);
  }
  if (!std::isfinite(best)) return {std::log10(lowest) - 1, -INFINITY, std::log10(lowest), true, 0};
  if (best == highest && lowest < highest) return {std::log10(best), std::log10(best), INFINITY, true, 0};
  return exact(std::log10(best));
}

// Width in decades of the lrs whose run ends within `within` of the best accuracy.
MetricValue metric_lr_range(const MetricInput& in) {
  const auto& t = in.t;
  double best = -INFINITY;
  for (auto i : in.rows)
    if (stable(t, i, in.rule.floor, in.sel.sel_acc)) best = std::max(best, t.num(i, in.sel.sel_acc));
  double lo = INFINITY, hi = -INFINITY;
  for (auto i : in.rows)
    if (stable(t, i, in.rule.floor, in.sel.sel_acc) && t.num(i, in.sel.sel_acc) >= best - in.rule.within) {
      lo = std::min(lo, t.num(i, "lr"));
      hi = std::max(hi, t.num(i, "lr"));
    }
  return exact(std::isfinite(lo) ? std::log10(hi) - std::log10(lo) : 0.0);
}

// value: the column at the best lr (select = best-lr), else its mean over the rows.
MetricValue metric_value(const MetricInput& in) {
  if (in.rule.select == Select::best_lr) {
    std::size_t best = in.rows[0];
    for (auto i : in.rows)
      if (in.t.num(i, in.sel.sel_acc) > in.t.num(best, in.sel.sel_acc)) best = i;
    MetricValue m = exact(column_value(in.t, best, in.rule.column, in.sel.stopped));
    if (has_lr(in.t)) m.edge = grid_edge(in.t, in.rows, best);
    return m;
  }
  double s = 0;
  for (auto i : in.rows) s += column_value(in.t, i, in.rule.column, in.sel.stopped);
  return exact(s / double(in.rows.size()));
}

// The population standard deviation of the column over the rows (the `over` key's values).
MetricValue metric_spread(const MetricInput& in) {
  double s = 0, s2 = 0;
  for (auto i : in.rows) {
    const double v = column_value(in.t, i, in.rule.column, in.sel.stopped);
    s += v;
    s2 += v * v;
  }
  const double n = double(in.rows.size()), mean = s / n;
  return exact(std::sqrt(std::max(0.0, s2 / n - mean * mean)));
}

// The fastest lr by the selection split's curve (first in grid order on a tie),
// reported by its test curve; unreached (or diverged) is censored at budget + 1.
MetricValue metric_steps_to_target(const MetricInput& in) {
  const double tg = in.sel.target.at(in.combo);
  double fastest = INFINITY, m = std::nan("");
  std::size_t chosen = in.rows[0];
  for (auto i : in.rows) {
    const std::string& id = in.t.at(i, "run_id");
    const auto sc = in.sel.sel_curve.find(id), tc = in.sel.test_curve.find(id);
    const double reached = first_reach(sc == in.sel.sel_curve.end() ? decltype(sc->second){} : sc->second, tg,
                                       in.sel.budget);
    if (reached < fastest) {
      fastest = reached;
      m = first_reach(tc == in.sel.test_curve.end() ? decltype(tc->second){} : tc->second, tg, in.sel.budget);
      chosen = i;
    }
  }
  MetricValue v = exact(m);
  if (m > in.sel.budget) v.hi = INFINITY, v.censored = true;  // never reached: at least the budget
  if (has_lr(in.t)) v.edge = grid_edge(in.t, in.rows, chosen);
  return v;
}

// The mean over the group's runs of their drift.
MetricValue metric_activation_drift(const MetricInput& in) {
  double sum = 0;
  for (auto i : in.rows) {
    const auto it = in.sel.drift.find(in.t.at(i, "run_id"));
    sum += it == in.sel.drift.end() ? 0.0 : it->second;
  }
  return exact(sum / double(in.rows.size()));
}

using MetricFn = MetricValue (*)(const MetricInput&);

MetricFn metric_fn(Metric m) {
  switch (m) {
    case Metric::largest_stable_lr: return metric_largest_stable_lr;
    case Metric::lr_range: return metric_lr_range;
    case Metric::value: return metric_value;
    case Metric::spread: return metric_spread;
    case Metric::steps_to_target: return metric_steps_to_target;
    case Metric::activation_drift: return metric_activation_drift;
    case Metric::count: break;
  }
  throw std::logic_error("metric_fn: no such metric");
}

using Measured = std::map<std::string, std::map<long, MetricValue>>;  // group -> seed -> metric

// measure: every (group, side) and seed's metric.
std::map<Group, std::map<long, MetricValue>> measure(const ClaimRule& rule, const CsvTable& t, const Grouping& g,
                                                     const Selection& sel) {
  const MetricFn fn = metric_fn(rule.metric);
  std::map<Group, std::map<long, MetricValue>> per_group;
  for (const auto& [group, seeds] : g.groups)
    for (const auto& [seed, rows] : seeds)
      per_group[group][seed] = fn(MetricInput{rule, t, sel, g.combo_of.at(group.first), rows});
  return per_group;
}

// contrast: each group's metric per seed; with a contrast m(a) - m(b) for the seeds
// that have both sides (bounds: [lo_a - hi_b, hi_a - lo_b]; an edge on either side counts).
Measured contrast_sides(const ClaimRule& rule, const std::map<Group, std::map<long, MetricValue>>& per_group,
                        ClaimResult& res) {
  Measured out;
  int dropped = 0;  // contrast-relative = "log": seeds without positive, finite values on both sides
  for (const auto& [group, seeds] : per_group) {
    if (group.second != 0) continue;
    auto& o = out[group.first];
    if (rule.contrast.empty()) {
      o = seeds;
    } else if (const auto b = per_group.find({group.first, 1}); b != per_group.end()) {
      for (const auto& [seed, ma] : seeds)
        if (auto it = b->second.find(seed); it != b->second.end()) {
          const MetricValue& mb = it->second;
          if (!rule.contrast_log) {
            o[seed] = {ma.v - mb.v, ma.lo - mb.hi, ma.hi - mb.lo, ma.censored || mb.censored, ma.edge | mb.edge};
          } else if (ma.v > 0 && mb.v > 0 && std::isfinite(ma.v) && std::isfinite(mb.v)) {
            const double d = std::log(ma.v / mb.v);  // value metrics: lo = hi = v, never censored
            o[seed] = {d, d, d, false, ma.edge | mb.edge};
          } else {
            ++dropped;
          }
        }
    }
    for (const auto& [seed, m] : o) res.metric[group.first][seed] = m.v;
  }
  if (dropped > 0)
    res.note += fmt::format("; {} group-seeds left out (a value not positive and finite)", dropped);
  return out;
}

// The signed difference of a treatment and a control metric (> 0 favours the claim).
double difference(const ClaimRule& rule, double mt, double mc) {
  const double d = rule.relative == Relative::ratio ? mt / mc - 1
                   : rule.relative == Relative::log ? std::log(mt / mc)
                                                    : mt - mc;
  return rule.direction == Direction::greater ? d : -d;
}

// The cell's resolution in units of d: the metric's grid step or evaluation interval Δ,
// divided by the arms' median value for ratios (ln(1 + Δ / median) for log ratios).
double resolution(const ClaimRule& rule, const Selection& sel, std::vector<double> arm_values) {
  const MetricKind kind = metric_kind(rule);
  const double step = kind == MetricKind::grid ? sel.grid_step : kind == MetricKind::steps ? sel.eval_step : 0.0;
  if (step == 0 || rule.relative == Relative::none) return step;
  if (arm_values.empty()) return 0.0;
  std::nth_element(arm_values.begin(), arm_values.begin() + arm_values.size() / 2, arm_values.end());
  const double median = std::abs(arm_values[arm_values.size() / 2]);
  return rule.relative == Relative::ratio ? step / median : std::log1p(step / median);
}

// decide: one cell's paired differences, their bounds, and its (unadjusted) decision.
// An arm's per-seed metric in one combination (empty when the arm has none there).
const std::map<long, MetricValue>& arm_metric(const Measured& m, const std::string& key) {
  static const std::map<long, MetricValue> none;
  const auto it = m.find(key);
  return it == m.end() ? none : it->second;
}

// One cell: treatment tr's per-seed metric against the control's, paired by seed.
Comparison decide(const ClaimRule& rule, const std::map<long, MetricValue>& treat,
                  const std::map<long, MetricValue>& ctrl, const Selection& sel, const std::string& combo,
                  const std::string& tr, const SequentialDesign* seq) {
  Comparison c;
  c.treatment = tr + combo;
  c.arm = tr;
  if (auto tg = sel.target.find(combo); tg != sel.target.end()) c.target = tg->second;
  std::vector<double> arm_values;
  int edges = 0;  // 1: an arm selected at the grid's bottom, 2: at its top
  for (const auto& [seed, mt] : treat) {
    auto it = ctrl.find(seed);
    if (it == ctrl.end()) continue;
    const MetricValue& mc = it->second;
    const double a = difference(rule, mt.lo, mc.hi), b = difference(rule, mt.hi, mc.lo);  // "less" swaps them
    c.diffs.push_back(difference(rule, mt.v, mc.v));
    c.sample.lo.push_back(std::min(a, b));
    c.sample.hi.push_back(std::max(a, b));
    c.sample.censored += mt.censored || mc.censored;
    c.edge_treatment += mt.edge != 0, c.edge_control += mc.edge != 0;
    edges |= mt.edge | mc.edge;
    arm_values.insert(arm_values.end(), {mt.v, mc.v});
  }
  c.sample.d = c.diffs;
  c.cell_rule = CellRule{rule.margin, method_for(metric_kind(rule)), resolution(rule, sel, arm_values),
                         rule.equivalence};
  if (seq) {  // the levels of the look this cell's seeds are at
    c.look = look_of(*seq, int(c.diffs.size()));
    c.cell_rule.alpha = seq->alpha_ci[std::size_t(c.look)], c.cell_rule.tost_alpha = seq->alpha_tost[std::size_t(c.look)];
  }
  const CellDecision cd = decide_cell(c.sample, c.cell_rule);
  c.mean = cd.mean, c.ci_low = cd.ci_low, c.ci_high = cd.ci_high, c.tost_low = cd.tost_low, c.tost_high = cd.tost_high;
  c.verdict = c.unadjusted = cd.verdict, c.why = c.unadjusted_why = cd.why, c.seeds_needed = cd.seeds_needed;
  c.level = decision_level(c.sample, c.cell_rule, cd);
  if (!c.diffs.empty()) {
    c.min = *std::min_element(c.diffs.begin(), c.diffs.end());
    c.max = *std::max_element(c.diffs.begin(), c.diffs.end());
  }
  // An optimum at the grid's edge in more than one seed measures the grid, not the norm.
  if (c.edge_treatment > rule.edge_seeds || c.edge_control > rule.edge_seeds) {
    c.verdict = c.unadjusted = Verdict::untestable;
    c.why = c.unadjusted_why = edges == 3 ? Why::grid_edge_both : edges == 2 ? Why::grid_edge_up : Why::grid_edge_down;
  }
  return c;
}

// decide_effect: a positive control on the contrast's own effect in one arm, decided as a cell
// whose control arm measures 0 in every seed: d_s = m(a) - m(b) of that arm, against its margin.
Comparison decide_effect(const ClaimRule& rule, const ClaimRule::EffectControl& ec, const Measured& m,
                         const Selection& sel, const std::string& combo, const SequentialDesign* seq) {
  const auto& arm = arm_metric(m, ec.arm + combo);
  std::map<long, MetricValue> zero;  // the control side: 0 in each of the arm's seeds
  for (const auto& [seed, v] : arm) zero[seed] = exact(0);
  ClaimRule r = rule;
  r.margin = ec.margin, r.equivalence = false;
  Comparison c = decide(r, arm, zero, sel, combo, ec.arm, seq);
  c.treatment = fmt::format("{} ({} {} - {}){}", ec.arm, rule.contrast, rule.contrast_values[0],
                            rule.contrast_values[1], combo);
  c.positive_control = true;
  return c;
}

bool is_positive_control(const ClaimRule& rule, const Grouping& g, const std::string& combo) {
  const auto vals = g.combo_values.find(combo);
  if (vals == g.combo_values.end()) return false;
  for (const auto& cell : rule.positive_control) {
    bool all = true;
    for (const auto& [k, v] : cell) {
      const auto it = vals->second.find(k);
      all = all && it != vals->second.end() && same_value(it->second, v);
    }
    if (all) return true;
  }
  return false;
}

// The positive controls gate: unless every one is supported (after Holm), every other cell
// is untestable: "control failed" when one is not supported or untestable, else "control undecided".
void gate_controls(std::vector<Comparison>& cells) {
  bool failed = false, undecided = false;
  for (const auto& c : cells)
    if (c.positive_control) {
      failed = failed || c.verdict == Verdict::not_supported || c.verdict == Verdict::untestable;
      undecided = undecided || c.verdict == Verdict::inconclusive;
    }
  if (!failed && !undecided) return;
  for (auto& c : cells)
    if (!c.positive_control && c.verdict != Verdict::untestable)
      c.verdict = Verdict::untestable, c.why = failed ? Why::control_failed : Why::control_undecided;
}

// Holm's step-down correction over the claim's cells at the 5% family level: cells in
// order of their decision level; the j-th (from 0) of K keeps its decision while every
// level so far is at most 0.05 / (K - j); from the first that is not, the rest are inconclusive.
void holm(std::vector<Comparison>& cells) {
  std::vector<Comparison*> order;
  for (auto& c : cells)
    if (c.verdict != Verdict::untestable) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(), [](const Comparison* a, const Comparison* b) { return a->level < b->level; });
  const std::size_t K = order.size();
  bool stopped = false;
  for (std::size_t j = 0; j < K; ++j) {
    stopped = stopped || !(order[j]->level <= 0.05 / double(K - j));
    if (stopped && order[j]->verdict != Verdict::inconclusive) {
      order[j]->verdict = Verdict::inconclusive, order[j]->why = Why::none;
      const auto& d = order[j]->diffs;
      double mean = 0, ss = 0;
      for (double v : d) mean += v / double(d.size());
      for (double v : d) ss += (v - mean) * (v - mean);
      order[j]->seeds_needed = seeds_for_margin(int(d.size()), std::sqrt(ss / double(d.size() - 1)), order[j]->cell_rule);
    }
  }
}

// aggregate: the claim's verdict never hides a cell: one class, or each class's cells.
void aggregate(ClaimResult& res) {
  for (const auto& c : res.comparisons) res.cells[int(c.verdict)].push_back(c.treatment);
  int classes = 0, last = 0;
  for (int v = 0; v < 4; ++v)
    if (!res.cells[v].empty()) ++classes, last = v;
  static const ClaimVerdict one[4] = {ClaimVerdict::supported, ClaimVerdict::not_supported, ClaimVerdict::inconclusive,
                                      ClaimVerdict::untestable};
  res.verdict = classes > 1 ? ClaimVerdict::depends : classes == 1 ? one[last] : ClaimVerdict::not_supported;
}

}  // namespace

std::string verdict_text(const ClaimResult& r) {
  switch (r.verdict) {
    case ClaimVerdict::supported: return "supported";
    case ClaimVerdict::not_supported: return "not supported";
    case ClaimVerdict::inconclusive: return "inconclusive";
    case ClaimVerdict::untestable: return "untestable";
    case ClaimVerdict::depends: break;
  }
  static const char* label[4] = {"supported for ", "not supported for ", "undecided for ", "untestable for "};
  std::string s = "depends: ";
  for (int v = 0; v < 4; ++v)
    if (!r.cells[v].empty())
      s += fmt::format("{}{}{}", s.size() > 9 ? "; " : "", label[v], fmt::join(r.cells[v], "; "));
  return s;
}

namespace {
// The cells of one column: every treatment (and effect control) in every `each` combination.
ClaimResult evaluate_cells(const ClaimRule& rule, const CsvTable& t, const CsvTable* curves,
                           const CsvTable* activations, const SequentialDesign* seq) {
  ClaimResult res;
  const Grouping g = group_rows(rule, t);
  const Selection sel = select_inputs(rule, t, g, curves, activations, res);
  const Measured m = contrast_sides(rule, measure(rule, t, g, sel), res);
  for (const auto& combo : g.combos) {
    const std::size_t first = res.comparisons.size();
    for (const auto& tr : rule.treatment) {
      res.comparisons.push_back(
          decide(rule, arm_metric(m, tr + combo), arm_metric(m, rule.control + combo), sel, combo, tr, seq));
      res.comparisons.back().positive_control = is_positive_control(rule, g, combo);
    }
    for (const auto& ec : rule.effect_controls) res.comparisons.push_back(decide_effect(rule, ec, m, sel, combo, seq));
    if (auto it = g.combo_values.find(combo); it != g.combo_values.end())
      for (std::size_t i = first; i < res.comparisons.size(); ++i) res.comparisons[i].combo = it->second;
  }
  return res;
}

// "ARM @ k=v" -> "ARM @ column=C, k=v"; "ARM" -> "ARM @ column=C".
std::string with_column(const std::string& name, const std::string& col) {
  const auto at = name.find(" @ ");
  if (at == std::string::npos) return fmt::format("{} @ column={}", name, col);
  return fmt::format("{} @ column={}, {}", name.substr(0, at), col, name.substr(at + 3));
}

// Appends one column's cells and metrics to res, each named with its column.
void add_column(ClaimResult& res, ClaimResult&& part, const std::string& col) {
  for (auto& c : part.comparisons) {
    c.treatment = with_column(c.treatment, col);
    c.combo["column"] = col;
    res.comparisons.push_back(std::move(c));
  }
  for (auto& [group, seeds] : part.metric) res.metric[with_column(group, col)] = std::move(seeds);
  if (res.note.empty()) res.note = part.note, res.target = part.target;
}
}  // namespace

ClaimResult evaluate_claim(const ClaimRule& rule, const CsvTable& t, const CsvTable* curves,
                           const CsvTable* activations, const SequentialDesign* seq) {
  ClaimResult res;
  if (rule.columns.empty()) {
    res = evaluate_cells(rule, t, curves, activations, seq);
  } else {
    for (const auto& col : rule.columns) {
      ClaimRule one = rule;
      one.column = col, one.columns.clear();
      add_column(res, evaluate_cells(one, t, curves, activations, seq), col);
    }
  }
  holm(res.comparisons);
  gate_controls(res.comparisons);
  aggregate(res);
  return res;
}

namespace {
using RunValue = std::function<std::optional<std::string>(const std::string&)>;

// Whether the run's value of key is want; a key the run does not have passes.
bool run_is(const RunValue& value, const std::string& key, const std::string& want) {
  const auto v = value(key);
  return !v || same_value(*v, want);
}
}  // namespace

bool run_selected(const ClaimRule& rule, const RunValue& value) {
  for (const auto& [k, allowed] : rule.where)
    if (std::none_of(allowed.begin(), allowed.end(), [&](const std::string& w) { return run_is(value, k, w); }))
      return false;
  return rule.contrast.empty() || run_is(value, rule.contrast, rule.contrast_values[0]) ||
         run_is(value, rule.contrast, rule.contrast_values[1]);
}

bool run_feeds_cell(const ClaimRule& rule, const Comparison& cell, const RunValue& value) {
  if (!run_selected(rule, value)) return false;
  if (!run_is(value, rule.by, cell.arm) && !run_is(value, rule.by, rule.control)) return false;
  for (const auto& [k, v] : cell.combo)
    if (!run_is(value, k, v)) return false;
  return true;
}

}  // namespace normlab
