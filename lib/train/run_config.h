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
#include "train/key_schema.h"

namespace normlab {

// Evaluations per run after step 0 when neither eval-every nor eval-count says.
inline constexpr long kDefaultEvalCount = 20;

// "eval_every" -> "eval-every"; throws ConfigError listing the keys when unknown.
std::string canonical_key(const std::string& key, const std::string& where = "");

class RunConfig {
 public:
  RunConfig();  // all defaults
  // Sets one key from text, validated and canonicalized by its spec
  // (check_value in key_schema.h: "0.10" -> "0.1"). Throws ConfigError naming
  // `where` (file:line or option), the key, the value and what is allowed.
  void set(const std::string& key, const std::string& value, const std::string& where = "");
  const std::string& get(const std::string& key) const;
  // Typed reads of a key's canonical text (REQUIRES: a key of that type).
  double number(const std::string& key) const;
  long long integer(const std::string& key) const;
  bool flag(const std::string& key) const;
  std::vector<int> integers(const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return v_; }
  // "key=value\n" for every key in run_keys() order.
  std::string canonical() const;
  // First 16 hex digits of sha256(canonical()).
  std::string run_id() const;

 private:
  std::map<std::string, std::string> v_;
};

// eval-between: what the evaluation points between step 0 and the last evaluate.
enum class EvalBetween { all, val };

// The typed form the trainer uses. Each key was validated by RunConfig::set;
// resolve() checks the rules that involve two keys (epochs > 0 when steps is
// 0, eval-stats=precise not with rnn), collecting all problems into one ConfigError.
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
  long eval_every = 0;   // 0: eval_count evaluations per run
  long eval_count = 0;   // with eval_every = 0: evaluations per run after step 0; 0 = kDefaultEvalCount
  int eval_batch = 1000;
  int eval_train = 4096;   // eval-train: training samples evaluated per point (the generalization gap); 0 = all
  int eval_subset = 0;     // > 0: validation and test evaluated on their first N samples
  EvalBetween eval_between = EvalBetween::all;  // val: test and the training subset at step 0 and T only
  bool eval_batch_stats = false;  // evaluate BN with each batch's own statistics
  bool eval_precise = false;      // evaluate BN with population statistics (precise_bn.h)
  int precise_batches = 100;      // training batches those statistics are computed over
  bool eval_shuffled = false;     // evaluate each split in a fixed permutation, not stored order
  std::vector<int> stat_batches;  // batch-statistic error measured at these sizes after training
  int stat_draws = 200;           // batches drawn per size
  bool landscape = false;         // probe the loss landscape at every evaluation (train/landscape.h)
  double scale_hidden = 1;        // hidden dense/conv layers start at C x their init and step at C^2 x lr
  double target_acc = 0;   // 0: no target
  double diverge_factor = 1000;
  uint64_t seed = 0;
  int threads = 1;
  bool drop_last = true;
  int probe_batch = 256;
};

TrainSpec resolve(const RunConfig& cfg);

}  // namespace normlab
