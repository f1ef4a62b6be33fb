// Shard ledger files and flock(2) locks (layout in ledger.h). flock locks go
// away with the process, so a killed sweep never leaves a stale lock.
#include "sweep/ledger.h"

#include "core/parse_number.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/errors.h"
#include "core/read_file.h"
#include "results/run_files.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {
nlohmann::json read_json(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return nullptr;
  try {
    return nlohmann::json::parse(read_file_capped(path));  // over the file cap: refused, not read whole
  } catch (const nlohmann::json::exception&) {
    return nullptr;  // a torn or foreign file: treated as absent
  }
}

// --- process identity and liveness (shard_liveness) ---

std::string first_line(const std::string& path) {  // a /proc file: short, read to its first newline
  std::ifstream in(path);  // bounded: /proc
  std::string s;
  std::getline(in, s);
  return s;
}

std::string pid_namespace() {
  std::error_code ec;
  const auto t = fs::read_symlink("/proc/self/ns/pid", ec);
  return ec ? "" : t.string();
}

// Field 22 of /proc/PID/stat: the start time in clock ticks since boot; "" when
// the process does not exist. Fields are counted after the ")" ending comm.
std::string start_ticks(long pid) {
  const std::string stat = first_line(fmt::format("/proc/{}/stat", pid));
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string f;
  for (int field = 3; field <= 22 && (rest >> f); ++field)
    if (field == 22) return f;
  return "";
}

nlohmann::json process_identity() {
  return {{"boot_id", first_line("/proc/sys/kernel/random/boot_id")},
          {"pid_ns", pid_namespace()},
          {"start_ticks", start_ticks(long(getpid()))}};
}

long long seconds_since(const std::string& utc) {
  std::tm tm{};
  if (!strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
  return (long long)(std::time(nullptr) - timegm(&tm));
}

// NORMLAB_HEARTBEAT_SECONDS, parsed in one place: whole seconds in [1, 86400], or
// unset (kHeartbeatSeconds); anything else is a problem, refused at start-up
// (heartbeat_env_problem, cmd/main.cpp), so the default below is never used for it.
struct HeartbeatEnv {
  int seconds = kHeartbeatSeconds;
  std::optional<std::string> problem;
};
HeartbeatEnv heartbeat_env() {
  const char* v = std::getenv("NORMLAB_HEARTBEAT_SECONDS");
  if (!v || !*v) return {};
  try {
    return {int(parse_integer(v, 1, 86400, "NORMLAB_HEARTBEAT_SECONDS")), std::nullopt};
  } catch (const ConfigError& e) {
    return {kHeartbeatSeconds, std::string(e.what()) + " (whole seconds between a shard's ledger updates)"};
  }
}

int heartbeat_seconds() { return heartbeat_env().seconds; }

// A record as `status` and the manifest may trust it, or ConfigError naming the file.
void check_record(const nlohmann::json& r, const std::string& file) {
  auto bad = [&](const std::string& what) {
    throw ConfigError(fmt::format("{}: not a shard ledger record ({}); it was not written by normlab or was "
                                  "damaged. Delete it when no sweep is writing this directory", file, what));
  };
  if (!r.is_object()) bad("not a JSON object");
  static const std::regex kShard("([0-9]{1,6})/([0-9]{1,6})");
  std::smatch m;
  const std::string shard = r.contains("shard") && r["shard"].is_string() ? r["shard"].get<std::string>() : "";
  if (!std::regex_match(shard, m, kShard) || std::stoi(m[2]) < 1 || std::stoi(m[1]) >= std::stoi(m[2]))
    bad(fmt::format("\"shard\" must be \"I/N\" with 0 <= I < N, found {}", r.value("shard", nlohmann::json()).dump()));
  const std::string state = r.contains("state") && r["state"].is_string() ? r["state"].get<std::string>() : "";
  if (state != "running" && state != "finished" && state != "interrupted")
    bad("\"state\" must be running, finished or interrupted");
  if (!r.contains("pid") || !r["pid"].is_number_integer()) bad("\"pid\" must be an integer");
  for (const char* k : {"host", "started", "updated"})
    if (!r.contains(k) || !r[k].is_string()) bad(fmt::format("\"{}\" must be a string", k));
  if (r.contains("abandoned") && !r["abandoned"].is_array()) bad("\"abandoned\" must be a list");
  if (r.contains("abandoned"))
    for (const auto& a : r["abandoned"])
      if (!a.is_string()) bad("\"abandoned\" must be a list of run ids");
  if (r.contains("proc") && !r["proc"].is_object() && !r["proc"].is_null()) bad("\"proc\" must be an object");
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

std::optional<std::string> heartbeat_env_problem() { return heartbeat_env().problem; }

ShardLedger::ShardLedger(const std::string& dir, int index, int count, const nlohmann::json& slurm) {
  const std::string ld = dir + "/ledger";
  fs::create_directories(ld);
  const std::string name = fmt::format("shard-{}-of-{}", index, count);
  path_ = ld + "/" + name + ".json";
  dir_fd_ = ::open((ld + "/dir.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);  // never a link
  shard_fd_ = ::open((ld + "/" + name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
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
          {"abandoned", nlohmann::json::array()},
          {"proc", process_identity()}};
  write_file_atomic(path_, rec_.dump(2) + "\n");
  beat_ = std::thread([this] { heartbeat(); });
}

// Rewrites "updated" every heartbeat_seconds() until stopped, independent of
// the runs, so a long run still shows its shard alive on other hosts.
void ShardLedger::heartbeat() {
  const auto period = std::chrono::seconds(heartbeat_seconds());
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
    if (rec_.value("state", "") != "running") continue;
    rec_["updated"] = utc_now();
    try {
      write_file_atomic(path_, rec_.dump(2) + "\n");
    } catch (const std::exception&) {
      // A full disk: the next beat tries again; the sweep itself reports write errors.
    }
  }
}

ShardLedger::~ShardLedger() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (beat_.joinable()) beat_.join();
  if (shard_fd_ >= 0) ::close(shard_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void ShardLedger::record_data(const std::map<std::string, std::string>& data) {
  std::string me;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rec_["data"] = data;
    me = rec_.value("shard", "");
    write_file_atomic(path_, rec_.dump(2) + "\n");
  }
  const std::string dir = fs::path(path_).parent_path().parent_path().string();
  for (const auto& r : read_ledgers(dir)) {
    if (r.value("shard", "") == me || !r.contains("data") || !r["data"].is_object()) continue;
    if (shard_liveness(r) != "running") continue;  // a finished shard's data is in the manifest, checked before
    for (const auto& [spec, sum] : data) {
      const auto it = r["data"].find(spec);
      if (it == r["data"].end() || !it->is_string() || it->get<std::string>() == sum) continue;
      std::error_code ec;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      if (beat_.joinable()) beat_.join();
      fs::remove(path_, ec);  // this shard never ran
      throw ConfigError(fmt::format(
          "--out: {}: shard {} ({}) is training on dataset '{}' with checksum {} now; this shard's data has "
          "checksum {} (its files differ on this machine), and runs on other data would be mixed into one "
          "folder. Give every shard the same data files", dir, r.value("shard", "?"), holder(r), spec,
          it->get<std::string>(), sum));
    }
  }
}

void ShardLedger::finish(int signal, const std::vector<std::string>& abandoned) {
  std::lock_guard<std::mutex> lock(mu_);
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
  for (const auto& f : files) {
    nlohmann::json r;
    try {
      r = nlohmann::json::parse(read_file_capped(f));
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(fmt::format("{}: not a shard ledger record (not valid JSON: {}); delete it when no "
                                    "sweep is writing this directory", f, e.what()));
    }
    check_record(r, f);
    out.push_back(r);
  }
  return out;
}

std::string shard_liveness(const nlohmann::json& rec) {
  const std::string state = rec.value("state", "");
  if (state != "running") return state;
  const nlohmann::json proc = rec.contains("proc") && rec["proc"].is_object() ? rec["proc"] : nlohmann::json::object();
  const nlohmann::json here = process_identity();
  const bool same_machine = rec.value("host", "") == host_name() && !proc.empty() &&
                            proc.value("boot_id", "") == here["boot_id"] && proc.value("pid_ns", "") == here["pid_ns"];
  if (same_machine) {
    const std::string now = start_ticks(rec.value("pid", 0L));
    return !now.empty() && now == proc.value("start_ticks", "") ? "running" : "stale";
  }
  const long long age = seconds_since(rec.value("updated", ""));
  return age >= 0 && age <= kStaleSeconds ? "running" : "stale";
}

}  // namespace normlab
