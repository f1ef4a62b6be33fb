// Shard ledger files and flock(2) locks (layout in ledger.h). flock locks go
// away with the process, so a killed sweep never leaves a stale lock.
#include "sweep/ledger.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "results/run_files.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {
nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    return nullptr;  // a torn or foreign file: treated as absent
  }
}

std::string host_name() {
  char h[256] = {};
  gethostname(h, sizeof h - 1);
  return h;
}

std::string holder(const nlohmann::json& r) {
  if (!r.is_object()) return "another normlab process";
  return fmt::format("another normlab process (pid {} on {}, shard {}, since {})", r.value("pid", 0),
                     r.value("host", "?"), r.value("shard", "?"), r.value("started", "?"));
}
}  // namespace

ShardLedger::ShardLedger(const std::string& dir, int index, int count, const nlohmann::json& slurm) {
  const std::string ld = dir + "/ledger";
  fs::create_directories(ld);
  const std::string name = fmt::format("shard-{}-of-{}", index, count);
  path_ = ld + "/" + name + ".json";
  dir_fd_ = ::open((ld + "/dir.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  shard_fd_ = ::open((ld + "/" + name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (dir_fd_ < 0 || shard_fd_ < 0)
    throw ConfigError(fmt::format("{}: cannot create lock files: {}", ld, std::strerror(errno)));
  const bool whole = count == 1;
  if (flock(dir_fd_, (whole ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 || flock(shard_fd_, LOCK_EX | LOCK_NB) != 0) {
    // Name a running writer: the newest record still in state "running".
    nlohmann::json busy;
    for (const auto& r : read_ledgers(dir))
      if (r.value("state", "") == "running") busy = r;
    ::close(dir_fd_), ::close(shard_fd_);
    dir_fd_ = shard_fd_ = -1;
    throw ConfigError(fmt::format(
        "{} is being written by {}; two writers of the same runs would interleave. Wait for it to end, "
        "or give each process its own --shard i/n", dir, holder(busy)));
  }
  const nlohmann::json prev = read_json(path_);
  const bool had = prev.is_object();
  rec_ = {{"shard", fmt::format("{}/{}", index, count)},
          {"state", "running"},
          {"signal", ""},
          {"host", host_name()},
          {"pid", int(getpid())},
          {"started", utc_now()},
          {"updated", utc_now()},
          {"starts", (had ? prev.value("starts", 0) : 0) + 1},
          {"preemptions", (had ? prev.value("preemptions", 0) : 0) +
                              (had && prev.value("state", "") == "interrupted" ? 1 : 0)},
          {"slurm", slurm},
          {"abandoned", nlohmann::json::array()}};
  write_file_atomic(path_, rec_.dump(2) + "\n");
}

ShardLedger::~ShardLedger() {
  if (shard_fd_ >= 0) ::close(shard_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void ShardLedger::finish(int signal, const std::vector<std::string>& abandoned) {
  rec_["state"] = signal ? "interrupted" : "finished";
  rec_["signal"] = signal ? std::string("SIG") + sigabbrev_np(signal) : "";
  rec_["abandoned"] = abandoned;
  rec_["updated"] = utc_now();
  write_file_atomic(path_, rec_.dump(2) + "\n");
}

nlohmann::json read_ledgers(const std::string& dir) {
  nlohmann::json out = nlohmann::json::array();
  const fs::path ld = fs::path(dir) / "ledger";
  if (!fs::is_directory(ld)) return out;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(ld))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    if (auto r = read_json(f); r.is_object()) out.push_back(r);
  return out;
}

}  // namespace normlab
