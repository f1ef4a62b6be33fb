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
  // The field as a number: "" -> NaN. Throws ConfigError naming the file, the
  // data row (1 = the first after the header), the column and the text when the
  // whole field is not a number (integer() also when it is not an integer).
  double num(std::size_t row, const std::string& name) const;
  long integer(std::size_t row, const std::string& name) const;
};

// Throws ConfigError naming the file (missing, or a row with the wrong field count).
CsvTable read_csv(const std::string& path);
// The same for text already in memory; path names it in messages.
CsvTable parse_csv(const std::string& text, const std::string& path);

// How a table's run_id column stands against the run ids a grid expects.
struct RunIdMatch {
  std::size_t missing = 0;  // expected ids absent from the table
  std::size_t extra = 0;    // table rows whose id is not expected
  bool in_order = false;    // the column is exactly `want`, in order
  bool exact() const { return missing == 0 && extra == 0; }
};
// REQUIRES: t has a run_id column (else ConfigError naming the file).
RunIdMatch match_run_ids(const CsvTable& t, const std::vector<std::string>& want);

}  // namespace normlab
