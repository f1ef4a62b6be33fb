#pragma once
// DIR/ledger/: what each shard of a sweep is doing, for `normlab status` and
// the manifest, and the locks that keep two processes off the same runs.
//   shard-I-of-N.json  { "shard": "I/N", "state": "running" | "finished" | "interrupted",
//                        "signal": signal name or "", "host", "pid", "started", "updated",
//                        "starts": invocations so far, "preemptions": earlier invocations
//                        that ended interrupted, "slurm": { job_id, array_job_id,
//                        array_task_id, restart_count } or null,
//                        "abandoned": [run ids stopped midway by the last interruption],
//                        "proc": { "boot_id", "pid_ns", "start_ticks" } (identifies the
//                        process beyond its PID, see shard_liveness),
//                        "data": { dataset spec: checksum } of the data it trains on }
//                      While the sweep runs, a heartbeat thread rewrites "updated" every
//                      kHeartbeatSeconds (NORMLAB_HEARTBEAT_SECONDS overrides it), during
//                      runs as well as between them.
//   dir.lock, shard-I-of-N.lock  flock(2) locks, held while a sweep writes: an
//                        unsharded sweep holds dir.lock exclusively; a shard holds it
//                        shared and its own shard lock exclusively. So distinct shards
//                        may share a directory; two writers of the same runs may not.
#include <nlohmann/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace normlab {

// The heartbeat period, and the age past which a "running" shard on another
// host (where its PID cannot be checked) is shown as stale: five missed beats.
inline constexpr int kHeartbeatSeconds = 60;
inline constexpr int kStaleSeconds = 300;

// NORMLAB_HEARTBEAT_SECONDS's value when it is set but not whole seconds in 1 to 86400:
// the message naming the allowed values (main exits 2 with it before any command).
std::optional<std::string> heartbeat_env_problem();

class ShardLedger {
 public:
  // Takes the locks and records state "running". Throws ConfigError naming the
  // directory and the process that holds it when another writer is active.
  // slurm: this process's Slurm facts (null outside Slurm).
  ShardLedger(const std::string& dir, int index, int count, const nlohmann::json& slurm);
  ~ShardLedger();  // stops the heartbeat, releases the locks
  ShardLedger(const ShardLedger&) = delete;
  ShardLedger& operator=(const ShardLedger&) = delete;

  // Records the data this shard trains on ({spec: checksum}), then compares it with
  // every other shard of DIR that is running now: throws ConfigError naming the
  // dataset, both checksums and the other shard when one trains on other data, and
  // then removes this shard's record (it never ran). Written before it reads, so of
  // two shards that start at once on different data, at most one goes on.
  void record_data(const std::map<std::string, std::string>& data);
  // Records the end: signal 0 -> "finished", else "interrupted" with the runs abandoned.
  void finish(int signal, const std::vector<std::string>& abandoned);
  const nlohmann::json& record() const { return rec_; }

 private:
  void heartbeat();
  std::string path_;
  nlohmann::json rec_;
  int dir_fd_ = -1, shard_fd_ = -1;
  std::mutex mu_;  // guards rec_ and the file against the heartbeat thread
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread beat_;
};

// Every shard record in DIR/ledger/, ordered by file name; an empty array when
// none. Throws ConfigError naming the file when one is not a shard record (not
// JSON, or a shard that is not I/N with 0 <= I < N, a state or pid of the wrong
// type): status and sweep then stop instead of dividing by a shard count of 0.
nlohmann::json read_ledgers(const std::string& dir);

// What a record's "state" really is now: "running" only while its process is
// alive. A running record whose process is gone is "stale":
//   same machine (host name, boot id and PID namespace all equal): the PID no
//     longer exists, or now belongs to a process started at another time;
//   otherwise: "updated" is older than kStaleSeconds.
// Other states are returned as recorded.
std::string shard_liveness(const nlohmann::json& rec);

}  // namespace normlab
