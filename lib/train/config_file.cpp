// TOML run files, parsed with toml++; errors carry file:line:col.
#include "core/read_file.h"
#include "train/config_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "core/errors.h"

namespace normlab {

std::string read_text_file(const std::string& path) { return read_file_capped(path); }

toml::table read_toml_file(const std::string& path, std::string* text) {
  const std::string body = read_text_file(path);
  if (text) *text = body;
  return parse_toml_text(body, path);
}

toml::table parse_toml_text(const std::string& text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", path, b.line, b.column, e.description()));
  }
}

std::string toml_where(const std::string& path, const toml::node& n) {
  const auto& src = n.source();
  return fmt::format("{}:{}:{}", path, src.begin.line, src.begin.column);
}

namespace {
std::string scalar_text(const toml::node& n, const std::string& where) {
  if (auto s = n.value<std::string>(); s && n.is_string()) return *s;
  if (n.is_integer()) return fmt::format("{}", *n.value<int64_t>());
  if (n.is_floating_point()) return fmt::format("{}", *n.value<double>());
  if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
  throw ConfigError(fmt::format("{}: expected a string, number or boolean", where));
}
}  // namespace

std::string toml_value_text(const toml::node& n, const std::string& where) {
  if (const auto* arr = n.as_array()) {
    std::vector<std::string> items;
    for (const auto& e : *arr) {
      if (e.is_array() || e.is_table())
        throw ConfigError(fmt::format("{}: nested lists and tables are not values", where));
      items.push_back(scalar_text(e, where));
    }
    return fmt::format("{}", fmt::join(items, ","));
  }
  if (n.is_table()) throw ConfigError(fmt::format("{}: a table is not a value", where));
  return scalar_text(n, where);
}

namespace {
const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "a list";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

bool toml_type_fits(KeyType t, bool k_check, const toml::node& n) {
  switch (t) {
    case KeyType::boolean: return n.is_boolean();
    case KeyType::integer: return n.is_integer();
    case KeyType::number: return n.is_integer() || n.is_floating_point();
    case KeyType::integer_list: {
      if (n.is_integer() || n.is_string()) return true;  // "128,64": the command line's form
      const auto* arr = n.as_array();
      return arr && std::all_of(arr->begin(), arr->end(), [](const toml::node& e) { return e.is_integer(); });
    }
    case KeyType::choice: return n.is_string();
    // A checked text key may be written as a number (bn_momentum = 0.1); free text (a name) is a string.
    case KeyType::text: return n.is_string() || (k_check && (n.is_integer() || n.is_floating_point()));
  }
  return false;
}

const char* toml_type_wanted(KeyType t) {
  switch (t) {
    case KeyType::boolean: return "true or false";
    case KeyType::integer: return "an integer";
    case KeyType::number: return "a number";
    case KeyType::integer_list: return "an integer, a list of integers or a string \"128,64\"";
    case KeyType::choice: return "a string";
    case KeyType::text: return "a string";
  }
  return "a value";
}
}  // namespace

std::string toml_key_text(const KeySpec& k, const toml::node& n, const std::string& where) {
  if (!toml_type_fits(k.type, k.check != nullptr, n)) {
    const std::string given = n.is_array() || n.is_table() ? "" : "'" + toml_value_text(n, where) + "' is ";
    throw ConfigError(fmt::format("{}: {}: {}{}; expected {} (allowed: {})", where, k.name, given,
                                  toml_type_name(n), toml_type_wanted(k.type), allowed_text(k)));
  }
  return toml_value_text(n, where);
}

std::vector<std::string> duplicate_spellings(const toml::table& t, const std::string& path) {
  std::vector<std::string> problems;
  // In file order (a table iterates by name), so the later line is the one reported.
  std::vector<std::pair<const toml::key*, const toml::node*>> keys;
  for (const auto& [key, node] : t) keys.push_back({&key, &node});
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    const auto &x = a.second->source().begin, &y = b.second->source().begin;
    return std::pair(x.line, x.column) < std::pair(y.line, y.column);
  });
  std::map<std::string, std::pair<std::string, std::string>> first;  // "a-b" -> (spelling, where)
  for (const auto& [key, node] : keys) {
    std::string k(key->str());
    const std::string spelling = k;
    for (auto& c : k)
      if (c == '_') c = '-';
    const std::string where = toml_where(path, *node);
    const auto [it, fresh] = first.try_emplace(k, spelling, where);
    if (!fresh)
      problems.push_back(fmt::format("{}: {}: the same key as {} at {}; give it once", where, spelling,
                                     it->second.first, it->second.second));
  }
  return problems;
}

std::map<std::string, std::string> apply_config_file(RunConfig& cfg, const std::string& path) {
  const toml::table tbl = read_toml_file(path);
  std::vector<std::string> problems = duplicate_spellings(tbl, path);
  std::map<std::string, std::string> given;
  for (const auto& [key, node] : tbl) {
    const std::string where = toml_where(path, node);
    try {
      const std::string k = canonical_key(std::string(key.str()), where);
      if (node.is_array() && k != "widths")
        throw ConfigError(fmt::format("{}: {}: a list of values is a sweep axis; use `normlab "
                                      "sweep` (train takes one value)", where, k));
      cfg.set(k, toml_key_text(*find_run_key(k), node, where), where);
      given[k] = where;
    } catch (const ConfigError& e) {
      problems.push_back(e.what());
    }
  }
  if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
  return given;
}

std::vector<std::string> ignored_keys(const RunConfig& cfg, const std::map<std::string, std::string>& given) {
  std::vector<std::string> problems;
  for (const auto& [key, where] : given) {
    const KeySpec& k = *find_run_key(key);
    if (key_applies(k, cfg.values())) continue;
    const std::string at = where == "--" + key ? where : where + ": " + key;  // an option names its key
    problems.push_back(fmt::format("{}: given, but {} (allowed: remove it, or change {})", at,
                                   not_applied_text(k, cfg.values()), fmt::join(condition_keys(k), " or ")));
  }
  return problems;
}

}  // namespace normlab
