#pragma once
// A CSV file read into memory (RFC 4180 quoting): the one CSV reader of the C++
// side (claims rules, sweep part status, bench baselines, the train out-dir guard).
#include <string>
#include <vector>

namespace normlab {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Column index; throws ConfigError naming the file and the column.
  int col(const std::string& name) const;
  const std::string& at(std::size_t row, const std::string& name) const { return rows[row][col(name)]; }
  double num(std::size_t row, const std::string& name) const;  // "" -> NaN
};

// Throws ConfigError naming the file (missing, or a row with the wrong field count).
CsvTable read_csv(const std::string& path);

}  // namespace normlab
