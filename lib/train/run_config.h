#pragma once
// One training run's configuration as text keys, and its typed, validated form.
//
// Every option of `normlab train` is a key here, spelled as the long option
// without dashes ("eval-every"; "eval_every" is the same key). A RunConfig
// holds the canonical text of every key, so it can be hashed (run_id),
// written as CSV columns, and read back from an experiment file unchanged.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "init/init.h"
#include "nn/model.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace normlab {

struct KeySpec {
  const char* name;
  char type;         // 's' text, 'f' number, 'i' integer, 'b' true|false, 'l' integer list
  const char* def;   // default, canonical text
  const char* help;  // for --help, and the allowed values in error messages
  bool identity = true;  // part of run_id (threads is not: results do not depend on it)
  // Can change whether the run sets up (data, model shapes, batch sizes): sweep
  // validation checks one run per distinct combination of these keys.
  bool setup = true;
  // false for keys added after results were first published: at their default
  // they stay out of run_id, so adding a key never changes an existing run's id.
  bool id_at_default = true;
};

// Limits that keep counts meaningful and arithmetic exact: threads per run (and
// runs at once), and training steps (an epochs value is checked against it once
// the training set's size is known).
constexpr int kMaxThreads = 256;
constexpr long kMaxSteps = 1000000000000L;  // 1e12

// Every key, in CSV column order.
const std::vector<KeySpec>& run_keys();
// "eval_every" -> "eval-every"; throws ConfigError listing the keys when unknown.
std::string canonical_key(const std::string& key, const std::string& where = "");

class RunConfig {
 public:
  RunConfig();  // all defaults
  // Sets one key from text (numbers canonicalized: "0.10" -> "0.1"). Throws
  // ConfigError naming `where` (file:line or option), the key and the value.
  void set(const std::string& key, const std::string& value, const std::string& where = "");
  const std::string& get(const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return v_; }
  // "key=value\n" for every key in run_keys() order.
  std::string canonical() const;
  // First 16 hex digits of sha256(canonical()).
  std::string run_id() const;

 private:
  std::map<std::string, std::string> v_;
};

// The typed form the trainer uses. resolve() validates every key, collecting
// all problems into one ConfigError.
struct TrainSpec {
  std::string dataset;
  ModelConfig model;
  InitSpec init;
  OptimConfig optim;
  ScheduleConfig schedule;
  double lr = 0.1;
  int batch_size = 64;
  double epochs = 1;
  long steps = 0;        // > 0 overrides epochs
  long eval_every = 0;   // 0: about 20 evaluations per run
  int eval_batch = 1000;
  int eval_train = 4096;   // training samples evaluated per point (the generalization gap)
  int eval_subset = 0;     // > 0: validation and test evaluated on their first N samples
  bool eval_batch_stats = false;  // evaluate BN with each batch's own statistics
  bool eval_precise = false;      // evaluate BN with population statistics (precise_bn.h)
  int precise_batches = 100;      // training batches those statistics are computed over
  bool eval_shuffled = false;     // evaluate each split in a fixed permutation, not stored order
  std::vector<int> stat_batches;  // batch-statistic error measured at these sizes after training
  int stat_draws = 200;           // batches drawn per size
  double target_acc = 0;   // 0: no target
  double diverge_factor = 1000;
  uint64_t seed = 0;
  int threads = 1;
  bool drop_last = true;
  int probe_batch = 256;
};

TrainSpec resolve(const RunConfig& cfg);

}  // namespace normlab
