#pragma once
// Activation probes: summary statistics of each hidden pre-activation on a
// fixed batch, the measurement behind Ioffe & Szegedy's Figure 1.
#include <span>
#include <vector>

#include "nn/sequential.h"
#include "train/run_result.h"

namespace normlab {

// Exact percentile of v at q in [0,1] with linear interpolation between order
// statistics (numpy's default). Reorders v. REQUIRES: !v.empty().
double percentile(std::vector<float>& v, double q);
// The same at several q at once, qs ascending: below 32,768 values by successive
// selections on what is left above the previous one; from there by one bucket count
// on the values' top bits and a selection inside the wanted buckets.
// Each result is the same value percentile(v, q) gives. REQUIRES: !v.empty().
void percentiles(std::vector<float>& v, std::span<const double> qs, std::span<double> out);

class ActivationProbe {
 public:
  // REQUIRES: x holds n samples of the model's input; n <= model.max_batch().
  ActivationProbe(const Sequential<float>& model, std::vector<float> x, int n);
  // Runs the probe batch in train mode (as the network sees it during training),
  // then in eval mode, and appends one point per hidden pre-activation. Running
  // statistics are restored afterwards, so probing never changes training.
  void measure(Sequential<float>& model, long step, std::vector<ActivationPoint>& out);

 private:
  std::vector<float> x_;
  int n_;
  std::vector<std::size_t> layers_;
  std::vector<float> saved_buffers_, scratch_;
  std::vector<Rng*> rngs_;        // the model's random streams (Layer::rngs), found at the first measure
  std::vector<Rng> saved_rngs_;   // their state before the probe's forward
  bool rngs_found_ = false;
};

}  // namespace normlab
