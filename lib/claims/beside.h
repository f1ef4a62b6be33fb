#pragma once
// A second claims folder's verdicts shown beside this one's in claims.md
// (`normlab claims --beside DIR`), e.g. the quick profile on the MNIST 10k
// subset beside the full profile on Fashion-MNIST, so that the summary shows
// whether a verdict holds on both data sets:
//   per claim  DIR's verdict, its cell counts and its runs' datasets;
//   per cell   DIR's verdict, n and mean, and whether the two folders agree
//              where both decide the cell (supported or not supported).
// Only DIR's verdict files are read: they are shown, never re-evaluated or gated
// (`--baseline` gates).
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "claims/paired_interval.h"

namespace normlab {

struct BesideCell {
  Verdict verdict = Verdict::inconclusive;
  long n = 0;
  double mean = 0;
};

struct Beside {
  std::string dir;      // as given
  std::string profile;  // DIR/manifest.json's identity.profile ("quick", "full")
  std::map<std::string, std::vector<std::string>> datasets;  // claim id -> its runs' dataset specs, each once
  std::map<std::pair<std::string, std::string>, BesideCell> cells;  // (claim id, cell); no claim rows
  std::map<std::string, std::string> claim_verdict;                  // claim id -> its verdict text
  // nullptr when DIR has no such cell.
  const BesideCell* find(const std::string& id, const std::string& cell) const;
};

// Reads DIR/manifest.json (a claims store) and DIR/claims.csv (columns id, cell,
// n, mean, verdict; one row per (id, cell)), and each claim folder's runs.csv
// for its datasets. Throws ConfigError naming the file and what is wrong (exit 2,
// before anything runs).
Beside read_beside(const std::string& dir);

// Two decisions on one cell. Only decided cells (supported, not supported) are compared.
enum class Agreement { not_both_decided, agree, disagree };
Agreement agreement(Verdict here, Verdict there);

// Parses a claims.csv cell verdict ("supported", "not supported", ...); false if none.
bool parse_verdict(const std::string& s, Verdict* v);

}  // namespace normlab
