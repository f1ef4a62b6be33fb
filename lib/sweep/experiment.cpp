// Experiment expansion (format in experiment.h):
//   runs = [ c x s  for c in product(axes) (+ includes) if not excluded, for s in seeds ]
// with axes in run_keys() order, the first key varying slowest, seeds fastest.
#include "sweep/experiment.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/sha256.h"
#include "tensor/rng.h"
#include "core/errors.h"
#include "core/limits.h"
#include "core/parse_number.h"
#include "train/config_file.h"

namespace normlab {

namespace {

struct Value {
  std::string text;
  std::string where;
};
using Axes = std::map<std::string, std::vector<Value>>;  // canonical key -> alternatives

// Top-level keys that are not run keys: the scalar ones have a spec in
// meta_keys() (train/key_schema.h); these are read here.
const std::set<std::string> kStructural = {"seeds", "exclude", "include", "random", "profile", "rule", "claim",
                                           "amendment"};

bool is_meta(const std::string& key) { return kStructural.count(key) || find_meta_key(key); }

// What an experiment may do with the key (KeySpec::sweep); `list` when the value is a list of alternatives.
void check_sweep(const KeySpec& k, bool list, const std::string& where, const std::string& seeds_form) {
  if (k.sweep == Sweep::never)
    throw ConfigError(fmt::format("{}: {}: a sweep's seeds come from `seeds`, so {} would be ignored; write "
                                  "{} to run it (allowed here: seeds, a count or a list)",
                                  where, k.name, k.name, seeds_form));
  if (k.sweep == Sweep::single && list)
    throw ConfigError(fmt::format("{}: {}: takes one value, not a list ({})", where, k.name, k.help));
}

class Parser {
 public:
  Parser(std::string path, uint64_t max_runs) : path_(std::move(path)), max_runs_(max_runs) {}
  std::vector<std::string> problems;

  template <class F>
  void guard(F&& f) {
    try {
      f();
    } catch (const ConfigError& e) {
      problems.push_back(e.what());
    }
  }

  // A value listed twice (after its canonical form: 0.1 and 1e-1 are one value) would
  // give the same runs twice, and they would be trained once: refused, with both places.
  static void refuse_repeated_values(const std::string& key, const std::vector<Value>& vals) {
    std::map<std::string, std::string> first;  // canonical text -> where
    for (const auto& v : vals)
      if (const auto [it, fresh] = first.emplace(v.text, v.where); !fresh)
        throw ConfigError(fmt::format("{}: {}: {} is listed twice (also at {}); each value gives its runs once "
                                      "(allowed: list each value once)", v.where, key, v.text, it->second));
  }

  // A key's alternatives: a list is an axis, anything else one value. Each
  // value is checked by the key's spec with its own position (or at `at`).
  void read_axis(Axes& axes, const std::string& raw_key, const toml::node& node, const std::string& at = "") {
    const std::string where = at.empty() ? toml_where(path_, node) : at;
    guard([&] {
      const std::string key = canonical_key(raw_key, where);
      const KeySpec& spec = *find_run_key(key);
      std::vector<Value> vals;
      auto add = [&](const toml::node& n) {
        const std::string w = at.empty() ? toml_where(path_, n) : at;
        vals.push_back({check_value(spec, toml_key_text(spec, n, w), w), w});
      };
      const auto* arr = node.as_array();
      // widths = [128, 64] is one value; widths = [[128, 64], [256]] is an axis.
      const bool axis = arr && !(spec.type == KeyType::integer_list && !arr->empty() && !arr->get(0)->is_array());
      if (spec.sweep == Sweep::never) {
        const std::string given = node.is_table() ? "7" : toml_value_text(node, where);
        check_sweep(spec, axis, where, (at.empty() ? "seeds = [" : "--set seeds=[") + given + "]");
      }
      check_sweep(spec, axis, where, "");
      if (axis) {
        if (arr->empty())
          throw ConfigError(fmt::format("{}: {}: empty list (give at least one value)", where, key));
        for (const auto& e : *arr) add(e);
        refuse_repeated_values(key, vals);
      } else {
        add(node);
      }
      axes[key] = std::move(vals);
    });
  }

  void read_table(Axes& axes, const toml::table& t, bool top) {
    for (auto& d : duplicate_spellings(t, path_)) problems.push_back(std::move(d));
    for (const auto& [k, node] : t) {
      const std::string key(k.str());
      if (top && is_meta(key)) continue;
      if (node.is_table()) {
        problems.push_back(fmt::format("{}: unknown table [{}] (allowed: exclude, include, random, "
                                       "profile.NAME, rule)", toml_where(path_, node), key));
        continue;
      }
      read_axis(axes, key, node);
    }
  }

  // A scalar meta key of t under either spelling ("lr_reference_batch" or
  // "lr-reference-batch"), checked by its spec; nothing when absent.
  std::optional<std::string> meta_text(const toml::table& t, const KeySpec& k, const std::string& prefix = "") {
    std::string underscored = k.name;
    std::replace(underscored.begin(), underscored.end(), '-', '_');
    const toml::node* n = t.get(k.name);
    if (!n) n = t.get(underscored);
    if (!n) return std::nullopt;
    std::optional<std::string> out;
    guard([&] {
      const std::string w = toml_where(path_, *n), full = prefix + k.name;
      KeySpec named = k;  // messages say "random.samples", not "samples"
      named.name = full.c_str();
      out = check_value(named, toml_key_text(named, *n, w), w);
    });
    return out;
  }

  std::vector<uint64_t> read_seeds(const toml::node& n) {
    std::vector<uint64_t> seeds;
    const std::string where = toml_where(path_, n);
    if (auto c = n.value<int64_t>(); c && n.is_integer()) {
      if (*c < 1) problems.push_back(fmt::format("{}: seeds: {} (allowed: a count >= 1 or a list)", where, *c));
      // Counted before the list is made: seeds = 4294967296 must not fill memory first.
      if (uint64_t(std::max<int64_t>(*c, 0)) > max_runs_) {
        problems.push_back(fmt::format("{}: seeds: {} is more than the limit of {} runs (allowed: a count "
                                       "up to {}; set {} to raise the limit)", where, *c, max_runs_,
                                       max_runs_, kMaxRunsEnv));
        return {0};
      }
      for (int64_t i = 0; i < *c; ++i) seeds.push_back(uint64_t(i));
    } else if (const auto* arr = n.as_array()) {
      if (arr->empty()) problems.push_back(fmt::format("{}: seeds: empty list", where));
      std::map<uint64_t, std::string> first;  // seed -> where
      for (const auto& e : *arr) {
        auto v = e.value<int64_t>();
        if (!e.is_integer() || *v < 0) {
          problems.push_back(fmt::format("{}: seeds: entries must be integers >= 0", toml_where(path_, e)));
        } else if (const auto [it, fresh] = first.emplace(uint64_t(*v), toml_where(path_, e)); !fresh) {
          problems.push_back(fmt::format("{}: seeds: {} is listed twice (also at {}); each seed gives its runs "
                                         "once (allowed: list each seed once)", toml_where(path_, e), *v,
                                         it->second));
        } else {
          seeds.push_back(uint64_t(*v));
        }
      }
    } else {
      problems.push_back(fmt::format("{}: seeds: expected a count or a list of integers", where));
    }
    return seeds;
  }

  const std::string path_;
  const uint64_t max_runs_;
};

// Cartesian product of the axes, first key slowest.
std::vector<std::map<std::string, Value>> product(const Axes& axes) {
  std::vector<std::map<std::string, Value>> out(1);
  for (const auto& k : run_keys()) {
    auto it = axes.find(k.name);
    if (it == axes.end()) continue;
    std::vector<std::map<std::string, Value>> next;
    for (const auto& partial : out)
      for (const auto& v : it->second) {
        auto m = partial;
        m[k.name] = v;
        next.push_back(std::move(m));
      }
    out = std::move(next);
  }
  return out;
}

// The number of runs the grid expands to, counted in double (no overflow)
// before anything is expanded; [[exclude]] is not subtracted, so it is an
// upper bound. Refuses more than `limit`, and a run list (kBytesPerListedRun
// per run) larger than NORMLAB_MAX_MEMORY_MB, so raising the run limit alone
// cannot exhaust memory while expanding.
void check_grid_size(const std::string& path, const Axes& axes,
                     const std::vector<std::pair<Axes, std::string>>& includes, std::size_t draws,
                     std::size_t seeds, uint64_t limit) {
  auto combos = [](const Axes& a) {
    double n = 1;
    for (const auto& [k, vals] : a) n *= double(vals.size());
    return n;
  };
  double total = double(draws) * combos(axes);
  for (const auto& [inc, where] : includes) {
    Axes a = axes;
    for (const auto& [k, v] : inc) a[k] = v;
    total += combos(a);
  }
  const double combinations = total;
  total *= double(seeds);
  if (total > double(limit))
    throw ConfigError(fmt::format(
        "{}: the grid expands to {:.0f} runs ({:.0f} combinations x {} seeds, before [[exclude]]), more "
        "than the limit of {} runs; make the lists shorter, or set {}={:.0f} to allow it",
        path, total, combinations, seeds, limit, kMaxRunsEnv, total));
  const double mib = total * double(kBytesPerListedRun) / (1024.0 * 1024.0);
  if (mib > double(max_memory_mb()))
    throw ConfigError(fmt::format(
        "{}: the grid expands to {:.0f} runs, whose list alone needs an estimated {:.0f} MiB ({} bytes per "
        "run), more than the limit of {} MiB; make the lists shorter, or set {}={:.0f} to allow it",
        path, total, std::ceil(mib), kBytesPerListedRun, max_memory_mb(), kMaxMemoryEnv, std::ceil(mib)));
}

}  // namespace

namespace {

// Two runs that differ only in keys neither uses are one training under two run ids (a
// list crossed with runs that ignore it: groups = [4, 8] with norm = "batch"). Refused, once
// per set of such keys: the copies would be trained, and counted, as if they were evidence.
std::vector<std::string> repeated_trainings(const Experiment& ex, const std::map<std::string, std::string>& given) {
  std::map<std::string, std::size_t> first;  // what a run trains (the identity keys it uses) -> its index
  std::set<std::string> reported;
  std::vector<std::string> problems;
  std::vector<std::string> labels;  // made once a repeat is found
  for (std::size_t i = 0; i < ex.runs.size(); ++i) {
    const RunConfig& r = ex.runs[i];
    std::string trains;
    for (const auto& k : run_keys())
      if (k.identity && key_applies(k, r.values())) trains += fmt::format("{}={}\n", k.name, r.get(k.name));
    const auto [it, fresh] = first.emplace(trains, i);
    if (fresh) continue;
    const RunConfig& a = ex.runs[it->second];
    std::vector<std::string> keys, values;
    for (const auto& k : run_keys())
      if (a.get(k.name) != r.get(k.name)) {
        keys.push_back(k.name);
        values.push_back(fmt::format("{} = {} and {}", k.name, a.get(k.name), r.get(k.name)));
      }
    if (keys.empty() || !reported.insert(fmt::format("{}", fmt::join(keys, ","))).second) continue;
    if (labels.empty()) labels = run_labels(ex);
    const auto at = given.find(keys.front());
    problems.push_back(fmt::format(
        "{}{}: runs '{}' and '{}' are the same training: they differ only in {}, which neither uses ({}); each copy "
        "would be trained and counted (allowed: give {}'s values only where it applies, in [[include]] rows, or "
        "[[exclude]] the runs that do not use it)", at == given.end() ? ex.path + ": " : at->second + ": ", keys.front(),
        labels[it->second], labels[i], fmt::join(values, ", "), not_applied_text(*find_run_key(keys.front()), r.values()),
        keys.front()));
  }
  return problems;
}

}  // namespace

namespace {

// Per [[exclude]] row whether it excluded a combination, per [[include]] row whether
// it added a run, in one expansion.
struct RowEffects {
  std::vector<bool> excluded, added;
};

Experiment parse_experiment_with(const std::string& text, const std::string& path, const ExperimentOptions& opt,
                                 RowEffects* effects_out);

// Rows of [[exclude]] that exclude no combination of the file's own grid, and rows of
// [[include]] that add no run, under any of its profiles (nor without one): refused
// with their positions. A row without effect under the profile (or --set) in use may
// be there for another profile (e.g. an lr only the full profile lists, or a model
// only the full profile trains), so the other expansions are asked first; an
// expansion that fails for another reason tells nothing and is skipped.
std::vector<std::string> rows_without_effect(const std::string& text, const std::string& path,
                                             const ExperimentOptions& opt,
                                             const std::vector<std::pair<Axes, std::string>>& excludes,
                                             const std::vector<std::pair<Axes, std::string>>& includes,
                                             RowEffects hits, RowEffects* hits_out) {
  if (hits_out) {  // an expansion asked by the check below: report, do not check
    *hits_out = hits;
    return {};
  }
  auto all_true = [](const std::vector<bool>& v) { return std::all_of(v.begin(), v.end(), [](bool h) { return h; }); };
  if (all_true(hits.excluded) && all_true(hits.added)) return {};
  const toml::table tbl = parse_toml_text(text, path);
  std::vector<std::string> profiles = {""};
  if (const auto* all = tbl["profile"].as_table())
    for (const auto& [k, v] : *all) profiles.push_back(std::string(k.str()));
  for (const auto& name : profiles) {
    if (name == opt.profile && opt.sets.empty()) continue;  // this expansion is the one just made
    RowEffects h;
    ExperimentOptions o;
    o.profile = name;
    o.max_runs = opt.max_runs;
    try {
      parse_experiment_with(text, path, o, &h);
    } catch (const ConfigError&) {
      continue;
    }
    for (std::size_t i = 0; i < hits.excluded.size() && i < h.excluded.size(); ++i)
      hits.excluded[i] = hits.excluded[i] || h.excluded[i];
    for (std::size_t i = 0; i < hits.added.size() && i < h.added.size(); ++i)
      hits.added[i] = hits.added[i] || h.added[i];
  }
  const std::string asked = profiles.size() == 1 ? "it has none" :
                            fmt::format("none, {}", fmt::join(profiles.begin() + 1, profiles.end(), ", "));
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < excludes.size(); ++i)
    if (!hits.excluded[i])
      problems.push_back(fmt::format("{}: [[exclude]] excludes no run, under any profile of this file ({}): no "
                                     "combination of the grid has all of its values (allowed: remove the row, or "
                                     "give values the grid has)", excludes[i].second, asked));
  for (std::size_t i = 0; i < includes.size(); ++i)
    if (!hits.added[i])
      problems.push_back(fmt::format("{}: [[include]] adds no run, under any profile of this file ({}): each run "
                                     "it gives is in the grid already, or excluded (allowed: remove the row, or "
                                     "give values the grid lacks)", includes[i].second, asked));
  return problems;
}

}  // namespace

Experiment load_experiment(const std::string& path, const ExperimentOptions& opt) {
  return parse_experiment(read_text_file(path), path, opt);
}

Experiment parse_experiment(const std::string& text, const std::string& path, const ExperimentOptions& opt) {
  return parse_experiment_with(text, path, opt, nullptr);
}

namespace {

// parse_experiment; when effects_out is given, it receives per [[exclude]] and
// [[include]] row whether the row had an effect, and the check that each row has one
// under some profile is skipped (rows_without_effect is what asks).
Experiment parse_experiment_with(const std::string& text, const std::string& path, const ExperimentOptions& opt,
                                 RowEffects* effects_out) {
  Experiment ex;
  ex.path = path;
  ex.text = text;
  const toml::table tbl = parse_toml_text(text, path);
  const uint64_t limit = opt.max_runs > 0 ? uint64_t(opt.max_runs) : max_runs();
  Parser p(path, limit);
  ex.name = tbl["name"].value_or(std::filesystem::path(path).stem().string());
  ex.profile = opt.profile;
  // The name is a directory under results/: one plain path component.
  {
    const std::string where = tbl.get("name") ? toml_where(path, *tbl.get("name")) : path;
    const bool plain = !ex.name.empty() && ex.name.find("..") == std::string::npos && ex.name[0] != '.' &&
                       std::all_of(ex.name.begin(), ex.name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                                c == '.' || c == '+';
                       });
    if (tbl.get("name") && !tbl.get("name")->is_string())
      p.problems.push_back(fmt::format("{}: name: expected a string, the directory results/NAME", where));
    else if (!plain)
      p.problems.push_back(fmt::format("{}: name: '{}' (allowed: letters, digits, '-', '_', '+' and '.', "
                                       "not starting with '.' and without '..' or '/': it names the "
                                       "directory results/NAME)", where, ex.name));
  }
  // An empty file (or /dev/null) is a mistake, not a request for one default run.
  if (std::none_of(tbl.begin(), tbl.end(), [](const auto& kv) {
        return kv.first.str() != "name" && kv.first.str() != "description";
      }))
    throw ConfigError(fmt::format("{}: no keys: an experiment file needs at least one run key "
                                  "(e.g. dataset = \"mnist\") or seeds", path));

  Axes axes;
  p.read_table(axes, tbl, true);
  std::vector<uint64_t> seeds = {0};
  if (auto* s = tbl.get("seeds")) seeds = p.read_seeds(*s);

  if (!opt.profile.empty()) {
    const auto* prof = tbl["profile"][opt.profile].as_table();
    if (!prof) {
      std::vector<std::string> names;
      if (auto* all = tbl["profile"].as_table())
        for (const auto& [k, v] : *all) names.push_back(std::string(k.str()));
      throw ConfigError(fmt::format("{}: profile '{}' is not defined (defined: {})", path,
                                    opt.profile, names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
    for (auto& d : duplicate_spellings(*prof, path)) p.problems.push_back(std::move(d));
    for (const auto& [k, node] : *prof) {
      if (std::string(k.str()) == "seeds")
        seeds = p.read_seeds(node);
      else
        p.read_axis(axes, std::string(k.str()), node);
    }
  }
  // Plain references, not structured bindings: clang 14 (the fuzz build)
  // cannot capture a binding in a lambda.
  // A key set twice (in any spelling: batch_size, batch-size) is refused: the
  // later value would silently replace the earlier one.
  std::map<std::string, std::string> set_once;  // canonical key -> the first spelling given
  for (const auto& set : opt.sets) {
    const std::string& k = set.first;
    const std::string& v = set.second;
    p.guard([&] {
      const std::string where = "--set " + k;
      const std::string once = k == "seeds" ? k : canonical_key(k, where);
      if (const auto [it, fresh] = set_once.emplace(once, k); !fresh)
        throw ConfigError(fmt::format("--set: key '{}' is given twice (--set {}=... and --set {}={}); a key takes "
                                      "one value or one list (allowed: give it once, e.g. --set '{}=[a, b]')",
                                      once, it->second, k, v, once));
      if (k == "seeds") {  // the same forms as in the file: a count or a list
        toml::table t;
        try {
          t = toml::parse("seeds = " + v, where);
        } catch (const toml::parse_error&) {
          throw ConfigError(fmt::format("{}: '{}' (allowed: a count >= 1, or a list of integers >= 0 like [1, 2])",
                                        where, v));
        }
        Parser sp(where, limit);
        seeds = sp.read_seeds(*t.get("seeds"));
        if (!sp.problems.empty()) throw ConfigError(sp.problems.front());
        return;
      }
      // A list (--set 'lr=[0.1, 0.3]') is read as the file's TOML would be: an axis.
      if (const auto first = v.find_first_not_of(' '); first != std::string::npos && v[first] == '[') {
        toml::table t;
        try {
          t = toml::parse("value = " + v, where);
        } catch (const toml::parse_error& e) {
          throw ConfigError(fmt::format("{}: '{}' is not a TOML list ({}; allowed: a value, or a list like "
                                        "[0.1, 0.3])", where, v, e.description()));
        }
        Parser sp(where, limit);
        sp.read_axis(axes, k, *t.get("value"), where);
        if (!sp.problems.empty()) throw ConfigError(sp.problems.front());
        return;
      }
      const std::string key = canonical_key(k, where);
      const KeySpec& spec = *find_run_key(key);
      check_sweep(spec, false, where, fmt::format("--set seeds=[{}]", v));
      axes[key] = {{check_value(spec, v, where), where}};
    });
  }

  // Random mode: the [random] keys are drawn, `samples` times, then crossed with the rest.
  std::vector<std::map<std::string, Value>> draws(1);
  if (const auto* rnd = tbl["random"].as_table()) {
    int64_t samples = 1;
    if (!rnd->get("samples"))
      p.problems.push_back(fmt::format("{}: random.samples: missing (allowed: {})", toml_where(path, *rnd),
                                       allowed_text(*find_random_key("samples"))));
    if (auto t = p.meta_text(*rnd, *find_random_key("samples"), "random.")) samples = parse_integer(*t, 1, std::numeric_limits<int64_t>::max(), "random.samples");
    if (uint64_t(samples) > limit) {
      p.problems.push_back(fmt::format("{}: random.samples: {} is more than the limit of {} runs (set {} to "
                                       "raise the limit)", toml_where(path, *rnd), samples, limit, kMaxRunsEnv));
      samples = 1;
    }
    const auto draw_seed = p.meta_text(*rnd, *find_random_key("seed"), "random.");
    Rng rng(draw_seed ? uint64_t(parse_integer(*draw_seed, 0, std::numeric_limits<int64_t>::max(), "random.seed")) : 0, 77);
    draws.assign(std::size_t(samples), {});
    for (auto& d : duplicate_spellings(*rnd, path)) p.problems.push_back(std::move(d));
    for (const auto& entry : *rnd) {
      const toml::node& node = entry.second;
      const std::string key(entry.first.str());
      if (key == "samples" || key == "seed") continue;
      const std::string where = toml_where(path, node);
      p.guard([&] {
        const std::string ck = canonical_key(key, where);
        check_sweep(*find_run_key(ck), true, where, "seeds = [...]");
        const auto* range = node.as_table();
        const toml::array* ab = nullptr;
        bool log = false;
        if (range && (ab = (*range)["log_uniform"].as_array())) log = true;
        else if (range) ab = (*range)["uniform"].as_array();
        if (!ab || ab->size() != 2 || !(*ab)[0].is_number() || !(*ab)[1].is_number())
          throw ConfigError(fmt::format("{}: random.{}: expected {{ log_uniform = [a, b] }} or "
                                        "{{ uniform = [a, b] }}", where, key));
        const double a = (*ab)[0].value<double>().value(), b = (*ab)[1].value<double>().value();
        if (!(a < b) || (log && !(a > 0)))
          throw ConfigError(fmt::format("{}: random.{}: need a < b (and a > 0 for log_uniform)", where, key));
        // Drawn or listed in the file, not both: one of the two would be ignored.
        // --set is applied last, over the file's [random] as over its lists.
        if (const auto it = axes.find(ck); it != axes.end()) {
          if (set_once.count(ck)) return;
          throw ConfigError(fmt::format("{}: random.{}: the key is also given at {}; a key is drawn at random or "
                                        "given values, not both (allowed: remove one of the two)",
                                        where, key, it->second.front().where));
        }
        for (auto& d : draws) {
          const double u = rng.uniform();
          const double v = log ? std::exp(std::log(a) + u * (std::log(b) - std::log(a))) : a + u * (b - a);
          RunConfig probe;
          probe.set(ck, fmt::format("{:.4g}", v), where);
          d[ck] = {probe.get(ck), where};
        }
      });
    }
  }

  auto read_rows = [&](const char* name) {
    std::vector<std::pair<Axes, std::string>> rows;
    if (const auto* arr = tbl[name].as_array())
      for (const auto& e : *arr) {
        const auto* t = e.as_table();
        if (!t) {
          p.problems.push_back(fmt::format("{}: [[{}]] entries must be tables", toml_where(path, e), name));
          continue;
        }
        Axes a;
        p.read_table(a, *t, false);
        rows.push_back({std::move(a), toml_where(path, e)});
      }
    return rows;
  };
  const auto excludes = read_rows("exclude");
  const auto includes = read_rows("include");
  // A drawn value equals no listed one, so an [[exclude]] naming a drawn key would drop nothing.
  for (const auto& [ex_axes, where] : excludes)
    for (const auto& [k, vals] : ex_axes)
      if (draws.front().count(k))
        p.problems.push_back(fmt::format("{}: [[exclude]] names {}, which [random] draws: a drawn value matches "
                                         "no listed one, so the row would exclude nothing (allowed: exclude by "
                                         "keys that are listed, or narrow the drawn range)", where, k));

  // Typed by their specs (meta_keys()): a wrong type is refused, never replaced by the default.
  const auto scale_text = p.meta_text(tbl, *find_meta_key("lr-scale-with-batch"));
  const auto ref_text = p.meta_text(tbl, *find_meta_key("lr-reference-batch"));
  p.meta_text(tbl, *find_meta_key("description"));
  const bool scale = scale_text == "true";
  const double ref_batch = ref_text ? double(parse_integer(*ref_text, 1, kMaxInt, "lr_reference_batch")) : 32.0;
  if (ref_text && !scale)
    p.problems.push_back(fmt::format("{}: lr_reference_batch: used only with lr_scale_with_batch = true, which "
                                     "this file does not set (allowed: set both, or neither)", path));

  if (!p.problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(p.problems, "\n")));
  check_grid_size(path, axes, includes, draws.size(), seeds.size(), limit);

  // Combinations: the grid, then each include (its keys fixed, other axes expanded).
  std::vector<std::map<std::string, Value>> combos;
  std::vector<int> origin;  // per combination: -1 the grid, else the index of its [[include]] row
  for (const auto& d : draws)
    for (auto c : product(axes)) {
      for (const auto& [k, v] : d) c[k] = v;
      combos.push_back(std::move(c));
      origin.push_back(-1);
    }
  for (std::size_t i = 0; i < includes.size(); ++i) {
    Axes a = axes;
    for (const auto& [k, v] : includes[i].first) a[k] = v;
    for (auto& c : product(a)) {
      combos.push_back(std::move(c));
      origin.push_back(int(i));
    }
  }
  // A row of either kind without effect under every profile is refused (rows_without_effect).
  RowEffects effects{std::vector<bool>(excludes.size(), false), std::vector<bool>(includes.size(), false)};
  auto excluded = [&](const std::map<std::string, Value>& c) {
    bool out = false;
    for (std::size_t i = 0; i < excludes.size(); ++i) {
      bool all = true;
      for (const auto& [k, vals] : excludes[i].first) {
        auto it = c.find(k);
        bool any = false;
        for (const auto& v : vals) any = any || (it != c.end() && it->second.text == v.text);
        all = all && any;
      }
      if (all) effects.excluded[i] = out = true;
    }
    return out;
  };

  std::set<std::string> seen, messages;
  std::vector<std::string> problems;
  std::string all_canon;
  // A given key is never ignored: each must have an effect on at least one run
  // (KeySpec::applies); in the others it is the crossing of the grid's lists.
  std::map<std::string, std::string> given;  // canonical key -> where it was first given
  std::map<std::string, std::set<std::string>> seen_on;  // key -> what its condition read, in the runs
  std::set<std::string> applied;
  for (std::size_t ci = 0; ci < combos.size(); ++ci) {
    const auto& c = combos[ci];
    if (excluded(c)) continue;
    for (uint64_t s : seeds) {
      RunConfig cfg;
      TrainSpec spec;
      try {
        for (const auto& [k, v] : c) cfg.set(k, v.text, v.where);
        if (scale) {
          const double lr = cfg.number("lr") * double(cfg.integer("batch-size")) / ref_batch;
          cfg.set("lr", fmt::format("{:.6g}", lr));
        }
        cfg.set("seed", std::to_string(s));
        spec = resolve(cfg);
      } catch (const ConfigError& e) {
        std::string where, detail;
        for (const auto& [k, v] : c) where += (where.empty() ? "" : ", ") + k + "=" + v.text;
        // resolve() reports one "key: problem" per line; point each at the key's value in the file.
        std::istringstream lines(e.what());
        for (std::string line; std::getline(lines, line);) {
          const auto colon = line.find(':');
          const auto it = colon == std::string::npos ? c.end() : c.find(line.substr(0, colon));
          detail += fmt::format("\n  {}{}", it == c.end() ? "" : it->second.where + ": ", line);
        }
        const std::string msg = fmt::format("{}: in the run with {}:{}", path, where, detail);
        if (messages.insert(e.what()).second) problems.push_back(msg);
        continue;
      }
      for (const auto& [k, v] : c) {
        const KeySpec& spec_k = *find_run_key(k);
        given.emplace(k, v.where);
        if (key_applies(spec_k, cfg.values())) applied.insert(k);
        else seen_on[k].insert(not_applied_text(spec_k, cfg.values()));
      }
      if (!seen.insert(cfg.run_id()).second) continue;
      if (origin[ci] >= 0) effects.added[std::size_t(origin[ci])] = true;
      all_canon += cfg.canonical();
      ex.runs.push_back(std::move(cfg));
      ex.specs.push_back(std::move(spec));
    }
  }
  for (const auto& [k, where] : given) {
    if (applied.count(k) || !problems.empty()) continue;  // a run that did not resolve may have used it
    problems.push_back(fmt::format("{}: {}: given, but no run of this experiment uses it: {} (allowed: remove it, "
                                   "or change {} in some runs)", where, k, fmt::join(seen_on[k], "; "),
                                   fmt::join(condition_keys(*find_run_key(k)), " or ")));
  }
  if (problems.empty()) problems = rows_without_effect(text, path, opt, excludes, includes, effects, effects_out);
  if (problems.empty()) problems = repeated_trainings(ex, given);
  if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
  if (ex.runs.empty()) throw ConfigError(fmt::format("{}: the experiment expands to no runs", path));
  ex.grid_hash = sha256_hex(all_canon).substr(0, 16);
  return ex;
}

}  // namespace

void add_runs(Experiment& ex, const std::vector<RunConfig>& more) {
  std::set<std::string> have;
  for (const auto& r : ex.runs) have.insert(r.run_id());
  for (const auto& r : more)
    if (have.insert(r.run_id()).second) {
      ex.specs.push_back(resolve(r));
      ex.runs.push_back(r);
    }
  std::string all_canon;
  for (const auto& r : ex.runs) all_canon += r.canonical();
  ex.grid_hash = sha256_hex(all_canon).substr(0, 16);
}

namespace {

bool varies(const Experiment& ex, const char* key) {
  return std::any_of(ex.runs.begin(), ex.runs.end(),
                     [&](const RunConfig& r) { return r.get(key) != ex.runs[0].get(key); });
}

}  // namespace

std::string shared_settings(const Experiment& ex) {
  std::string out;
  for (const auto& k : run_keys())
    if (k.identity && !varies(ex, k.name) && ex.runs[0].get(k.name) != k.def)
      out += (out.empty() ? "" : " ") + std::string(k.name) + "=" + ex.runs[0].get(k.name);
  return out.empty() ? "defaults" : out;
}

std::vector<std::string> run_labels(const Experiment& ex) {
  std::vector<const char*> varying;
  for (const auto& k : run_keys())
    if (k.identity && varies(ex, k.name)) varying.push_back(k.name);
  std::vector<std::string> out;
  for (const auto& r : ex.runs) {
    std::string l;
    for (const char* k : varying) l += (l.empty() ? "" : " ") + std::string(k) + "=" + r.get(k);
    out.push_back(l.empty() ? r.run_id() : l);
  }
  return out;
}

}  // namespace normlab
