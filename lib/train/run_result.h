#pragma once
// What one training run measures. Plain data: the CSV writers read it, the
// trainer fills it, neither knows about the other's details.
#include <string>
#include <vector>

namespace normlab {

struct EvalPoint {
  long step;
  double epoch;
  long samples;
  std::string split;  // "train" (fixed subset), "val" (when the dataset has one) or "test"; all in eval mode
  double loss, accuracy;
  double grad_norm;   // of the last update before this point (0 at step 0)
  double lr;
  double elapsed_s;   // training time so far, evaluation excluded
  double hidden_wnorm = 0;  // nn/model.h hidden_weight_norm at this step (NaN: not defined for the model)
};

// Pre-activation of one hidden layer on the fixed probe batch: all units in train
// mode (mean, std, p*), unit 0 alone in train mode, all units in eval mode.
struct ActivationPoint {
  long step;
  int layer;          // index in the model (PyTorch Sequential index)
  std::string kind;   // the layer producing it: linear, batchnorm, ...
  double mean, std, p15, p50, p85;
  double unit_p15 = 0, unit_p50 = 0, unit_p85 = 0;  // unit (channel) 0 alone, train mode
  double eval_p15 = 0, eval_p50 = 0, eval_p85 = 0;  // all units, eval mode (running averages)
  double bn_running_mean = 0, bn_running_var = 0;  // channel averages; BN layers only
  bool has_bn = false;
  // ||W|| (Frobenius) of the dense or conv weight that produces this pre-activation: the layer's
  // own, or for a norm layer the one directly before it; biases left out. With a norm after W the
  // layer's effective lr is lr / ||W||^2 (van Laarhoven 2017). NaN: no such weight (rnn, blocks).
  double weight_norm = 0;
};

// Error of batch statistics against the training set's, for one batch-norm
// input at one batch size (see train/batch_stats.h).
struct BatchStatPoint {
  long step;
  int layer;         // index of the batch-norm layer whose input is measured
  int batch;         // batch size
  int draws;         // batches drawn
  double mean_err;   // RMS over draws and channels of (m_B - mu) / sigma
  double var_err;    // RMS over draws and channels of (v_B - sigma^2) / sigma^2
};

// The loss landscape along the gradient at one evaluation point (train/landscape.h).
struct LandscapePoint {
  long step = 0;
  double lr = 0;           // the step size the steps along -g are multiples of
  double loss = 0;         // L(w) on the probe's batch, train mode
  double loss_range = 0;   // +inf when the loss or gradient stopped being finite within 4 lr
  double grad_change = 0;
  double beta = 0;
};

struct RunResult {
  std::string status = "ok";  // ok | diverged | error
  std::string failure;        // "" | nan | explosion | collapsed (chance accuracy, loss ~ ln K)
  std::string message;
  long steps_done = 0;
  long diverge_step = -1;
  double final_test_acc = 0, best_test_acc = 0;
  double final_train_loss = 0, final_test_loss = 0;
  double final_train_acc = 0;
  bool has_val = false;        // the dataset has a validation split (dataset key val=F)
  double final_val_acc = 0, best_val_acc = 0, final_val_loss = 0;
  bool has_flip = false;        // eval-order = shuffled: pred_flip_rate was measured
  double pred_flip_rate = 0;    // fraction of test images whose prediction changes with their batch-mates
  long steps_to_target = -1;
  double seconds_to_target = -1;
  double loss_auc = 0;         // mean training-batch loss over the steps run
  double train_seconds = 0;
  double samples_per_s = 0;
  double peak_rss_mb = 0;
  std::vector<EvalPoint> curve;
  std::vector<ActivationPoint> activations;
  std::vector<BatchStatPoint> batch_stats;
  std::vector<LandscapePoint> landscape;  // landscape = true: one per evaluation point
};

}  // namespace normlab
