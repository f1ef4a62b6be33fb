#pragma once
// Shared by the claims tests: a CsvTable made in memory.
#include <string>
#include <utility>
#include <vector>

#include "results/csv_table.h"

namespace normlab::test {

inline CsvTable table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  CsvTable t;
  t.path = "test.csv";
  t.header = std::move(header);
  t.rows = std::move(rows);
  return t;
}

}  // namespace normlab::test
