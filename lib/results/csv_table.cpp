// CSV reading (RFC 4180): fields separated by commas; a field in double quotes
// may hold commas, newlines and doubled quotes; blank lines are skipped.
#include "core/read_file.h"
#include "results/csv_table.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"

namespace normlab {

namespace {
// Splits RFC 4180 text into records: a field in double quotes may hold commas,
// newlines and doubled quotes. Each record keeps the line it starts on.
std::vector<std::pair<int, std::vector<std::string>>> parse_records(const std::string& text) {
  std::vector<std::pair<int, std::vector<std::string>>> out;
  std::vector<std::string> rec(1);
  bool quoted = false, any = false;
  int line = 1, start = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        rec.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        rec.back() += c;
      }
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      rec.emplace_back();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || rec.size() > 1 || !rec[0].empty()) out.emplace_back(start, std::move(rec));  // blank lines skipped
      rec.assign(1, "");
      any = false;
      start = ++line;
    } else {
      rec.back() += c;
      any = true;
    }
  }
  if (any || rec.size() > 1 || !rec[0].empty()) out.emplace_back(start, std::move(rec));
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
  if (v.empty()) return std::nan("");
  char* end = nullptr;
  errno = 0;
  const double x = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || (errno == ERANGE && std::isinf(x)))
    throw ConfigError(fmt::format("{}: data row {}, column '{}': '{}' is not a number", path, row + 1, name, v));
  return x;
}

long CsvTable::integer(std::size_t row, const std::string& name) const {
  const std::string& v = at(row, name);
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || end == v.c_str() || *end != '\0' || errno == ERANGE)
    throw ConfigError(fmt::format("{}: data row {}, column '{}': '{}' is not an integer", path, row + 1, name, v));
  return x;
}

CsvTable read_csv(const std::string& path) { return parse_csv(read_file_capped(path), path); }

CsvTable parse_csv(const std::string& text, const std::string& path) {
  auto records = parse_records(text);
  if (records.empty()) throw ConfigError(fmt::format("{}: empty file", path));
  CsvTable t;
  t.path = path;
  t.header = std::move(records[0].second);
  for (std::size_t i = 1; i < records.size(); ++i) {
    auto& [line, r] = records[i];
    if (r.size() != t.header.size())
      throw ConfigError(fmt::format("{}:{}: {} fields, the header has {}", path, line, r.size(), t.header.size()));
    t.rows.push_back(std::move(r));
  }
  return t;
}

RunIdMatch match_run_ids(const CsvTable& t, const std::vector<std::string>& want) {
  RunIdMatch m;
  const int c = t.col("run_id");
  const std::set<std::string> w(want.begin(), want.end());
  std::set<std::string> have;
  for (const auto& row : t.rows) {
    have.insert(row[c]);
    m.extra += !w.count(row[c]);
  }
  for (const auto& id : w) m.missing += !have.count(id);
  m.in_order = t.rows.size() == want.size();
  for (std::size_t i = 0; m.in_order && i < want.size(); ++i) m.in_order = t.rows[i][c] == want[i];
  return m;
}

}  // namespace normlab
