// History records (format in history/record.h).
#include "history/record.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include "core/build_stamp.h"
#include "core/errors.h"
#include "core/sha256.h"
#include "results/run_files.h"
#include "tensor/blas_kernel.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {

const char* kPrefix = "commit,date,machine,cpu,cores,blas_kernel";
const char* kBenchCols = "triad_gb_s,sgemm_gflop_s,case,repeat,seconds";
const char* kClaimsCols = "claim,cell,n,mean,ci_low,ci_high,decision,tolerance";

std::string prefix_fields(const std::string& commit, const std::string& date, const Machine& m) {
  return fmt::format("{},{},{},{},{},{}", csv_field(commit), csv_field(date), m.id(), csv_field(m.cpu), m.cores,
                     csv_field(m.blas_kernel));
}

std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : std::string(); }

double field_num(const CsvTable& t, std::size_t i, const std::string& col) {
  return t.at(i, col).empty() ? std::nan("") : t.num(i, col);
}

}  // namespace

std::string record_kind_name(RecordKind k) {
  switch (k) {
    case RecordKind::bench: return "bench";
    case RecordKind::claims: return "claims";
  }
  return "";
}

std::string Machine::id() const {
  return sha256_hex(fmt::format("{}|{}|{}", cpu, cores, blas_kernel)).substr(0, 12);
}

Machine this_machine() {
  Machine m;
  std::ifstream in("/proc/cpuinfo");  // bounded: /proc
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      m.cpu = line.substr(line.find(':') + 1);
      m.cpu.erase(0, m.cpu.find_first_not_of(" \t"));
      break;
    }
  if (m.cpu.empty()) m.cpu = "unknown";
  m.cores = int(std::max(1u, std::thread::hardware_concurrency()));
  m.blas_kernel = blas_kernel().name;
  return m;
}

std::vector<ClaimCell> read_claim_cells(const std::string& claims_csv) {
  const CsvTable t = read_csv(claims_csv);
  std::vector<ClaimCell> out;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    ClaimCell c;
    c.claim = t.at(i, "id");
    c.cell = t.at(i, "cell");
    c.decision = t.at(i, "verdict");
    c.n = t.at(i, "n").empty() ? 0 : t.integer(i, "n");
    c.mean = field_num(t, i, "mean");
    c.ci_low = field_num(t, i, "ci_low");
    c.ci_high = field_num(t, i, "ci_high");
    c.tolerance = field_num(t, i, "tolerance");
    out.push_back(c);
  }
  return out;
}

std::string record_path(const std::string& history, const std::string& machine_id, const std::string& commit,
                        RecordKind kind) {
  return (fs::path(history) / machine_id / (commit + "." + record_kind_name(kind) + ".csv")).string();
}

std::string bench_record_text(const std::string& commit, const std::string& date, const Machine& m,
                              const std::vector<BenchCase>& cases) {
  std::string s = fmt::format("{},{}\n", kPrefix, kBenchCols);
  const std::string pre = prefix_fields(commit, date, m);
  for (const auto& c : cases)
    for (std::size_t r = 0; r < c.repeats_s.size(); ++r)
      s += fmt::format("{},{},{},{},{},{}\n", pre, num(m.triad_gb_s), num(m.sgemm_gflop_s), csv_field(c.name), r + 1,
                       num(c.repeats_s[r]));
  return s;
}

std::string claims_record_text(const std::string& commit, const std::string& date, const Machine& m,
                               const std::vector<ClaimCell>& cells) {
  std::string s = fmt::format("{},{}\n", kPrefix, kClaimsCols);
  const std::string pre = prefix_fields(commit, date, m);
  for (const auto& c : cells)
    s += fmt::format("{},{},{},{},{},{},{},{},{}\n", pre, csv_field(c.claim), csv_field(c.cell), c.n, num(c.mean),
                     num(c.ci_low), num(c.ci_high), csv_field(c.decision), num(c.tolerance));
  return s;
}

void check_commit_name(const std::string& option, const std::string& commit) {
  const bool ok = commit.size() >= 4 && commit.size() <= 64 && commit[0] != '.' &&
                  std::all_of(commit.begin(), commit.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
                  });
  if (!ok)
    throw ConfigError(fmt::format("{}: '{}' (allowed: a commit name of 4 to 64 characters from 0-9 A-Z a-z . _ -, "
                                  "not starting with '.')",
                                  option, commit));
}

std::string default_record_commit(const std::string& build_commit) {
  if (!is_clean_commit_stamp(build_commit))
    throw ConfigError(fmt::format("history record: this build's commit is '{}' (built with uncommitted changes, or "
                                  "outside git): no commit has its figures; commit and rebuild, or name the commit "
                                  "they belong to with --commit",
                                  build_commit));
  return build_commit;
}

namespace {

// The record's rows, checked against its path; fills r's shared fields.
void read_prefix(const CsvTable& t, Record* r) {
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    if (i == 0) {
      r->commit = t.at(0, "commit");
      r->date = t.at(0, "date");
      r->machine = t.at(0, "machine");
      r->fingerprint.cpu = t.at(0, "cpu");
      r->fingerprint.cores = int(t.integer(0, "cores"));
      r->fingerprint.blas_kernel = t.at(0, "blas_kernel");
    }
    for (const char* col : {"commit", "date", "machine"})
      if (t.at(i, col) != t.at(0, col))
        throw ConfigError(fmt::format("{}: data row {}, column '{}': '{}' differs from the first row's '{}' (a record "
                                      "holds one commit on one machine)",
                                      t.path, i + 1, col, t.at(i, col), t.at(0, col)));
  }
  if (t.rows.empty()) throw ConfigError(fmt::format("{}: no data rows (a record holds at least one)", t.path));
  const fs::path p(t.path);
  const std::string want = record_kind_name(r->kind);
  if (p.filename().string() != r->commit + "." + want + ".csv" || p.parent_path().filename().string() != r->machine ||
      r->fingerprint.id() != r->machine)
    throw ConfigError(fmt::format("{}: holds commit '{}' on machine '{}' (fingerprint {}), which belong in {}: a "
                                  "record renamed or copied by hand is not trusted",
                                  t.path, r->commit, r->machine, r->fingerprint.id(),
                                  record_path("HISTORY", r->fingerprint.id(), r->commit, r->kind)));
}

Record read_record(const std::string& path, RecordKind kind) {
  const CsvTable t = read_csv(path);
  std::string header;
  for (const auto& h : t.header) header += (header.empty() ? "" : ",") + h;
  const std::string want = fmt::format("{},{}", kPrefix, kind == RecordKind::bench ? kBenchCols : kClaimsCols);
  if (header != want) throw ConfigError(fmt::format("{}: header '{}' (allowed: '{}')", path, header, want));
  Record r;
  r.kind = kind;
  r.path = path;
  read_prefix(t, &r);
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    if (kind == RecordKind::bench) {
      const double s = t.num(i, "seconds");
      if (!(std::isfinite(s) && s > 0))
        throw ConfigError(fmt::format("{}: data row {}, column 'seconds': '{}' (allowed: a time > 0)", path, i + 1,
                                      t.at(i, "seconds")));
      r.fingerprint.triad_gb_s = field_num(t, i, "triad_gb_s");
      r.fingerprint.sgemm_gflop_s = field_num(t, i, "sgemm_gflop_s");
      const std::string c = t.at(i, "case");
      if (r.cases.empty() || r.cases.back().first != c) r.cases.push_back({c, {}});
      r.cases.back().second.push_back(s);
    } else {
      ClaimCell c;
      c.claim = t.at(i, "claim");
      c.cell = t.at(i, "cell");
      c.decision = t.at(i, "decision");
      c.n = t.integer(i, "n");
      c.mean = field_num(t, i, "mean");
      c.ci_low = field_num(t, i, "ci_low");
      c.ci_high = field_num(t, i, "ci_high");
      c.tolerance = field_num(t, i, "tolerance");
      r.cells.push_back(c);
    }
  }
  return r;
}

}  // namespace

std::vector<Record> read_history(const std::string& history) {
  std::vector<Record> out;
  if (!fs::is_directory(history)) return out;
  for (const auto& m : fs::directory_iterator(history)) {
    if (!m.is_directory()) continue;
    for (const auto& e : fs::directory_iterator(m.path())) {
      const std::string name = e.path().filename().string();
      if (name.find(".tmp.") != std::string::npos) continue;  // an unfinished write: never read
      for (RecordKind k : {RecordKind::bench, RecordKind::claims}) {
        const std::string suffix = "." + record_kind_name(k) + ".csv";
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
          out.push_back(read_record(e.path().string(), k));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return std::tie(a.date, a.commit, a.machine, a.kind) < std::tie(b.date, b.commit, b.machine, b.kind);
  });
  return out;
}

}  // namespace normlab
