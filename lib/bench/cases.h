#pragma once
// The benchmark cases. Case names are shared with scripts/bench_torch.py so
// the two can be paired:
//   probe/triad, probe/sgemm-512x784x128                       machine limits
//   norm/{bn,ln,gn8}-{fwd,fwdbwd}/128x32x28x28, norm/{bn,ln}-{fwd,fwdbwd}/128x1024
//   layers/dense-{fwd,fwdbwd}/512x784x128, layers/conv-{fwd,fwdbwd}/128x1x28x28-32k3,
//   layers/conv-{fwd,fwdbwd}/128x16x14x14-32k3p1
//   step/mlp-{none,bn}/bN (N = 8, 32, 128, 512), step/cnn-{none,bn,gn,ln}/bN (N = 32, 128; none also 512)
//   step/resnet-{none,bn,gn,ln}/bN (N = 2, 8, 32, 128; depth 1)
#include <string>
#include <vector>

#include "bench/harness.h"

namespace normlab {

const std::vector<std::string>& bench_suites();  // probe, norm, layers, step

// Runs one suite (or "all"); `filter`, when not empty, keeps cases whose name contains it.
std::vector<BenchRow> run_bench(const std::string& suite, const TimingOptions& opt,
                                const std::string& filter = "");

}  // namespace normlab
