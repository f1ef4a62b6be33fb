#pragma once
// DIR/ledger/: what each shard of a sweep is doing, for `normlab status` and
// the manifest, and the locks that keep two processes off the same runs.
//   shard-I-of-N.json  { "shard": "I/N", "state": "running" | "finished" | "interrupted",
//                        "signal": signal name or "", "host", "pid", "started", "updated",
//                        "starts": invocations so far, "preemptions": earlier invocations
//                        that ended interrupted, "slurm": { job_id, array_job_id,
//                        array_task_id, restart_count } or null,
//                        "abandoned": [run ids stopped midway by the last interruption] }
//   dir.lock, shard-I-of-N.lock  flock(2) locks, held while a sweep writes: an
//                        unsharded sweep holds dir.lock exclusively; a shard holds it
//                        shared and its own shard lock exclusively. So distinct shards
//                        may share a directory; two writers of the same runs may not.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace normlab {

class ShardLedger {
 public:
  // Takes the locks and records state "running". Throws ConfigError naming the
  // directory and the process that holds it when another writer is active.
  // slurm: this process's Slurm facts (null outside Slurm).
  ShardLedger(const std::string& dir, int index, int count, const nlohmann::json& slurm);
  ~ShardLedger();  // releases the locks
  ShardLedger(const ShardLedger&) = delete;
  ShardLedger& operator=(const ShardLedger&) = delete;

  // Records the end: signal 0 -> "finished", else "interrupted" with the runs abandoned.
  void finish(int signal, const std::vector<std::string>& abandoned);
  const nlohmann::json& record() const { return rec_; }

 private:
  std::string path_;
  nlohmann::json rec_;
  int dir_fd_ = -1, shard_fd_ = -1;
};

// Every shard record in DIR/ledger/, ordered by file name; an empty array when none.
nlohmann::json read_ledgers(const std::string& dir);

}  // namespace normlab
