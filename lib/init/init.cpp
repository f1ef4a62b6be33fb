// Initializers (see init.h for the formulas). Every weight tensor draws from
// its own stream of the run's seed, so adding a layer does not reshuffle the others.
#include "init/init.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "core/parse_number.h"
#include "nn/residual.h"

namespace normlab {

namespace {
const char* kSchemes =
    "default, zeros, constant:V, normal:STD, uniform:A, xavier-normal, xavier-uniform, he-normal, "
    "he-uniform, lecun-normal, orthogonal (each optionally :SCALE)";

bool known(const std::string& s) {
  for (const char* k : {"default", "zeros", "constant", "normal", "uniform", "xavier-normal",
                        "xavier-uniform", "he-normal", "he-uniform", "lecun-normal", "orthogonal"})
    if (s == k) return true;
  return false;
}

void orthogonal(float* w, int rows, int cols, double gain, Rng& rng) {
  const bool tall = rows >= cols;
  const int r = tall ? rows : cols, c = tall ? cols : rows;
  Eigen::MatrixXd a(r, c);
  for (int i = 0; i < r; ++i)
    for (int j = 0; j < c; ++j) a(i, j) = rng.normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(r, c);
  const Eigen::MatrixXd R = qr.matrixQR().topRows(c).triangularView<Eigen::Upper>();
  for (int j = 0; j < c; ++j)
    if (R(j, j) < 0) q.col(j) *= -1.0;  // unique Q with a positive diagonal in R
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) w[long(i) * cols + j] = float(gain * (tall ? q(i, j) : q(j, i)));
}
}  // namespace

InitSpec parse_init(const std::string& s) {
  InitSpec spec;
  const auto colon = s.find(':');
  spec.scheme = s.substr(0, colon);
  if (!known(spec.scheme))
    throw ConfigError(fmt::format("init: unknown scheme '{}' (allowed: {})", s, kSchemes));
  if (colon != std::string::npos) {
    const std::string p = s.substr(colon + 1);
    try {  // whole text, finite: a run from inf or nan weights is not data but a typo
      spec.param = parse_finite(p, "init", "");
    } catch (const ConfigError&) {
      throw ConfigError(fmt::format("init: '{}' has a parameter that is not a finite number (allowed: {})", s, kSchemes));
    }
    spec.has_param = true;
    if (spec.scheme != "constant" && !(spec.param > 0))
      throw ConfigError(fmt::format("init: '{}' needs a parameter > 0", s));
  }
  return spec;
}

std::string to_string(const InitSpec& s) {
  return s.has_param ? fmt::format("{}:{}", s.scheme, s.param) : s.scheme;
}

void init_weight(float* w, std::size_t n, int fan_in, int fan_out, const InitSpec& spec, Rng& rng) {
  const std::string& k = spec.scheme;
  const double g = spec.has_param ? spec.param : 1.0;
  auto normal = [&](double sd) {
    for (std::size_t i = 0; i < n; ++i) w[i] = float(sd * rng.normal());
  };
  auto uniform = [&](double a) {
    for (std::size_t i = 0; i < n; ++i) w[i] = float(rng.uniform(-a, a));
  };
  if (k == "zeros") for (std::size_t i = 0; i < n; ++i) w[i] = 0.f;
  else if (k == "constant") for (std::size_t i = 0; i < n; ++i) w[i] = float(spec.param);
  else if (k == "normal") normal(spec.has_param ? spec.param : 0.01);
  else if (k == "uniform") uniform(spec.has_param ? spec.param : 0.05);
  else if (k == "default") uniform(g / std::sqrt(double(fan_in)));
  else if (k == "xavier-normal") normal(g * std::sqrt(2.0 / (fan_in + fan_out)));
  else if (k == "xavier-uniform") uniform(g * std::sqrt(6.0 / (fan_in + fan_out)));
  else if (k == "he-normal") normal(g * std::sqrt(2.0 / fan_in));
  else if (k == "he-uniform") uniform(g * std::sqrt(6.0 / fan_in));
  else if (k == "lecun-normal") normal(g * std::sqrt(1.0 / fan_in));
  else if (k == "orthogonal") orthogonal(w, int(n / std::size_t(fan_in)), fan_in, g, rng);
  else throw ConfigError(fmt::format("init: unknown scheme '{}' (allowed: {})", k, kSchemes));
}

namespace {
// The rnn's tensors (rnn.h): weight_ih (H, D) has fans (D, H), weight_hh (H, H) fans (H, H);
// under `default` every tensor, biases included, is U(+-1/sqrt(H)) as PyTorch's nn.RNN;
// otherwise biases are zero. Norm affine: gamma = 1, beta = 0.
void init_rnn(float* p, const std::vector<TensorSpec>& specs, const InitSpec& spec, uint64_t seed,
              uint64_t& stream) {
  const int H = specs[0].shape[0];
  for (const auto& s : specs) {
    Rng rng(seed, ++stream);
    const std::size_t n = s.numel();
    const bool weight = s.name == "weight_ih" || s.name == "weight_hh";
    if (s.name == "norm.weight" || s.name == "norm.bias") {
      std::fill_n(p, n, s.name == "norm.weight" ? 1.f : 0.f);
    } else if (spec.scheme == "default") {
      init_weight(p, n, H, H, spec, rng);
    } else if (weight) {
      init_weight(p, n, s.shape[1], s.shape[0], spec, rng);
    } else {
      std::fill_n(p, n, 0.f);
    }
    p += n;
  }
}

// One layer's parameters at p, each tensor from the next stream: linear and conv
// weights by the scheme, their biases PyTorch-style under `default` (else 0),
// norm affine gamma = 1, beta = 0. A residual block initializes its parts in
// order, then zeroes its last layer when asked (residual.h).
void init_layer(Layer<float>& l, float* p, const InitSpec& spec, uint64_t seed, uint64_t& stream) {
  const auto specs = l.params();
  if (l.kind() == "rnn") return init_rnn(p, specs, spec, seed, stream);
  if (auto* block = dynamic_cast<ResidualBlock<float>*>(&l)) {
    for (std::size_t k = 0; k < block->num_parts(); ++k)
      init_layer(block->part(k), p + block->part_param_offset(k), spec, seed, stream);
    if (block->zero_init_last()) block->zero_init_last_layer();
    return;
  }
  const bool weighted = l.kind() == "linear" || l.kind() == "conv2d";
  int fan_in = 1, fan_out = 1;
  if (weighted) {
    const auto& ws = specs[0].shape;
    int receptive = 1;
    for (std::size_t d = 2; d < ws.size(); ++d) receptive *= ws[d];
    fan_in = ws[1] * receptive;
    fan_out = ws[0] * receptive;
  }
  for (const auto& s : specs) {
    Rng rng(seed, ++stream);
    const std::size_t n = s.numel();
    if (!weighted) {  // norm affine
      const float v = s.name == "weight" ? 1.f : 0.f;
      for (std::size_t j = 0; j < n; ++j) p[j] = v;
    } else if (s.name == "weight") {
      init_weight(p, n, fan_in, fan_out, spec, rng);
    } else if (spec.scheme == "default") {
      init_weight(p, n, fan_in, fan_out, spec, rng);
    } else {
      for (std::size_t j = 0; j < n; ++j) p[j] = 0.f;
    }
    p += n;
  }
}
}  // namespace

void init_model(Sequential<float>& model, const InitSpec& spec, uint64_t seed) {
  uint64_t stream = 0;
  for (std::size_t i = 0; i < model.num_layers(); ++i)
    init_layer(model.layer(i), model.params().data() + model.param_offset(i), spec, seed, stream);
  model.reset_buffers();
}

}  // namespace normlab
