// CSV reading: fields separated by commas, a field in double quotes may hold
// commas and doubled quotes; one record per line (no embedded newlines here).
#include "results/csv_table.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "core/errors.h"

namespace normlab {

namespace {
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}
}  // namespace

int CsvTable::col(const std::string& name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return int(i);
  throw ConfigError(fmt::format("{}: no column '{}'", path, name));
}

double CsvTable::num(std::size_t row, const std::string& name) const {
  const std::string& v = at(row, name);
  return v.empty() ? std::nan("") : std::stod(v);
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: cannot open", path));
  CsvTable t;
  t.path = path;
  std::string line;
  if (!std::getline(in, line)) throw ConfigError(fmt::format("{}: empty file", path));
  t.header = split(line);
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto r = split(line);
    if (r.size() != t.header.size())
      throw ConfigError(fmt::format("{}:{}: {} fields, the header has {}", path, n, r.size(), t.header.size()));
    t.rows.push_back(std::move(r));
  }
  return t;
}

}  // namespace normlab
