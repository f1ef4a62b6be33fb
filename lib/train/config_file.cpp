// TOML run files, parsed with toml++; errors carry file:line:col.
#include "train/config_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace normlab {

toml::table read_toml_file(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  if (text) *text = body;
  try {
    return toml::parse(body, path);
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

void apply_config_file(RunConfig& cfg, const std::string& path) {
  const toml::table tbl = read_toml_file(path);
  std::vector<std::string> problems;
  for (const auto& [key, node] : tbl) {
    const std::string where = toml_where(path, node);
    try {
      const std::string k = canonical_key(std::string(key.str()), where);
      if (node.is_array() && k != "widths")
        throw ConfigError(fmt::format("{}: {}: a list of values is a sweep axis; use `normlab "
                                      "sweep` (train takes one value)", where, k));
      cfg.set(k, toml_value_text(node, where), where);
    } catch (const ConfigError& e) {
      problems.push_back(e.what());
    }
  }
  if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
}

}  // namespace normlab
