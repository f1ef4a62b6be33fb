// Central finite differences in double precision against every layer's
// backward, the loss, and whole models (gamma/beta included):
//   dL/dv ~ (L(v+h) - L(v-h)) / 2h,  h = 1e-5,  L = sum(r * forward(x)) for a fixed random r.
// Relative error |a-n| / max(|a|, |n|, 1e-3) must stay below 1e-6 (the floor keeps
// entries whose true gradient is ~0 from turning rounding into "relative" error).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "tensor/rng.h"
#include "nn/activation.h"
#include "nn/conv2d.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/model.h"
#include "nn/norm_layers.h"
#include "nn/pool.h"
#include "nn/rnn.h"
#include "nn/softmax_xent.h"

using namespace normlab;

namespace {

constexpr double kH = 1e-5, kTol = 1e-6;

double rel_err(double a, double n) {
  return std::abs(a - n) / std::max({std::abs(a), std::abs(n), 1e-3});
}

// Checks up to `limit` entries of v (spread evenly) against the analytic gradient.
double check_entries(std::vector<double>& v, const std::vector<double>& analytic,
                     const std::function<double()>& f, std::size_t limit = 150) {
  double worst = 0;
  const std::size_t stride = std::max<std::size_t>(1, v.size() / limit);
  for (std::size_t i = 0; i < v.size(); i += stride) {
    const double keep = v[i];
    v[i] = keep + kH;
    const double fp = f();
    v[i] = keep - kH;
    const double fm = f();
    v[i] = keep;
    worst = std::max(worst, rel_err(analytic[i], (fp - fm) / (2 * kH)));
  }
  return worst;
}

// Gradient check of one layer: input gradient (unless check_input is false),
// parameter gradients. set_buffers, if given, replaces the random running statistics.
void check_layer(Layer<double>& L, int N, Mode mode, uint64_t seed, double tol = kTol,
                 const std::function<void(std::vector<double>&)>& set_buffers = {},
                 bool check_input = true) {
  Rng rng(seed);
  std::size_t np = 0, nb = 0;
  for (auto& s : L.params()) np += s.numel();
  for (auto& s : L.buffers()) nb += s.numel();
  std::vector<double> p(np), g(np, 0.0), b(nb, 0.0);
  for (auto& v : p) v = rng.normal() * 0.5 + 0.3;
  L.bind(p.data(), g.data(), b.data());
  L.reserve(N);
  L.reset_buffers();
  for (std::size_t i = 0; i < nb; ++i) b[i] = i % 2 ? 0.8 + 0.4 * rng.uniform() : 0.2 * rng.normal();
  if (set_buffers) set_buffers(b);
  const std::size_t nin = std::size_t(N) * L.in_shape().size(),
                    nout = std::size_t(N) * L.out_shape().size();
  std::vector<double> x(nin), out(nout), r(nout), dx(nin, 0.0);
  for (auto& v : x) v = rng.normal() * 1.5 + 0.5;
  for (auto& v : r) v = rng.normal();
  std::vector<double> saved_b = b;
  auto f = [&] {
    b = saved_b;  // running statistics must not drift between evaluations
    L.forward(out.data(), x.data(), N, mode);
    double s = 0;
    for (std::size_t i = 0; i < nout; ++i) s += r[i] * out[i];
    return s;
  };
  f();
  L.backward(dx.data(), r.data(), x.data(), out.data(), N);
  if (check_input) {
    const double ex = check_entries(x, dx, f);
    INFO(L.kind(), " input gradient, worst relative error ", ex);
    CHECK(ex < tol);
  }
  if (np) {
    const double ep = check_entries(p, g, f);
    INFO(L.kind(), " parameter gradient, worst relative error ", ep);
    CHECK(ep < tol);
  }
}

}  // namespace

TEST_CASE("gradcheck: dense") {
  Dense<double> L(Shape{7, 1, 1}, 5);
  check_layer(L, 4, Mode::train, 1);
}

TEST_CASE("gradcheck: conv2d with stride and padding") {
  Conv2D<double> a(Shape{2, 6, 5}, 3, 3, 1, 0);
  check_layer(a, 2, Mode::train, 2);
  Conv2D<double> b(Shape{3, 7, 7}, 4, 3, 2, 1);
  check_layer(b, 2, Mode::train, 3);
}

TEST_CASE("gradcheck: conv2d with one input channel at stride 1 (the direct kernels)") {
  Conv2D<double> a(Shape{1, 6, 11}, 3, 3, 1, 1);  // 11 columns: a block of 8 and a partial one
  check_layer(a, 10, Mode::train, 14);             // 10 samples: slices of one and two
  Conv2D<double> b(Shape{1, 7, 9}, 2, 5, 1, 0);    // 5x5, no padding, 5 columns
  check_layer(b, 3, Mode::train, 15);
}

TEST_CASE("gradcheck: pooling, flatten, activations") {
  MaxPool2D<double> mp(Shape{2, 6, 6}, 2);
  check_layer(mp, 3, Mode::train, 4);
  AvgPool2D<double> ap(Shape{2, 6, 6}, 3, 2);
  check_layer(ap, 3, Mode::train, 5);
  Flatten<double> fl(Shape{2, 3, 3});
  check_layer(fl, 2, Mode::train, 6);
  for (ActKind a : {ActKind::relu, ActKind::sigmoid, ActKind::tanh}) {
    Activation<double> L(Shape{5, 2, 2}, a);
    check_layer(L, 3, Mode::train, 7);
  }
}

TEST_CASE("gradcheck: batch norm, dense and conv, train and eval") {
  NormOptions o;
  o.kind = NormKind::batch;
  BatchNorm<double> dense(Shape{6, 1, 1}, o);
  check_layer(dense, 5, Mode::train, 10);
  check_layer(dense, 5, Mode::eval, 11);
  BatchNorm<double> conv(Shape{3, 4, 4}, o);
  check_layer(conv, 2, Mode::train, 12);
  check_layer(conv, 2, Mode::eval, 13);
  o.affine = false;
  BatchNorm<double> plain(Shape{3, 2, 2}, o);
  check_layer(plain, 3, Mode::train, 14);
}

TEST_CASE("gradcheck: dropout with fixed masks, train and eval") {
  const Shape in{3, 2, 2};
  const int N = 4;
  Dropout<double> L(in, 0.4, 1, 2);
  Rng rng(15);
  std::vector<double> keep(std::size_t(N) * in.size());
  for (auto& k : keep) k = rng.uniform() < 0.4 ? 0.0 : 1.0;
  L.use_given_keep(keep.data());  // the masks must not change between evaluations of L
  check_layer(L, N, Mode::train, 16);
  check_layer(L, N, Mode::eval, 17);
}

TEST_CASE("gradcheck: ghost batch norm, chunks that divide the batch and a smaller last one") {
  NormOptions o;
  o.kind = NormKind::ghost_batch;
  o.ghost_batch = 3;
  BatchNorm<double> dense(Shape{5, 1, 1}, o);
  check_layer(dense, 8, Mode::train, 60);  // chunks 3, 3, 2
  check_layer(dense, 6, Mode::train, 61);  // chunks 3, 3
  check_layer(dense, 8, Mode::eval, 62);
  o.ghost_batch = 2;
  BatchNorm<double> conv(Shape{3, 3, 2}, o);
  check_layer(conv, 5, Mode::train, 63);  // chunks 2, 2, 1 (1 x H*W values)
  o.affine = false;
  BatchNorm<double> plain(Shape{2, 2, 2}, o);
  check_layer(plain, 4, Mode::train, 64);
}

TEST_CASE("gradcheck: batch renorm, r and d clipped (constants) and free (parameters only)") {
  NormOptions o;
  o.kind = NormKind::batch_renorm;
  o.renorm_rmax = 1.5;
  o.renorm_dmax = 0.5;
  // Running mean 50, running var 100: r = sigma_B/10 clips at 1/rmax and d at -dmax, so
  // r and d are locally constant and the stop-gradient backward is the true derivative.
  auto far = [](int C) {
    return [C](std::vector<double>& b) {
      for (int c = 0; c < C; ++c) {
        b[c] = 50;
        b[C + c] = 100;
      }
      b[2 * C] = 7;
    };
  };
  BatchNorm<double> dense(Shape{5, 1, 1}, o);
  check_layer(dense, 6, Mode::train, 70, kTol, far(5));
  BatchNorm<double> conv(Shape{3, 3, 3}, o);
  check_layer(conv, 2, Mode::train, 71, kTol, far(3));
  // Unclipped r and d depend on x, so only the parameter gradients are the true
  // derivative (r and d do not depend on gamma, beta).
  o.renorm_rmax = 100;
  o.renorm_dmax = 100;
  BatchNorm<double> free_rd(Shape{4, 1, 1}, o);
  check_layer(free_rd, 6, Mode::train, 72, kTol, {}, false);
  // At step 0 of a warm-up, r_max = 1 and d_max = 0: batch norm exactly.
  o.renorm_warmup = 10;
  BatchNorm<double> warm(Shape{4, 1, 1}, o);
  check_layer(warm, 6, Mode::train, 73, kTol, [](std::vector<double>& b) { b[8] = 0; });
}

TEST_CASE("gradcheck: noisy batch norm with fixed noise") {
  NormOptions o;
  o.kind = NormKind::noisy_batch;
  const std::vector<double> scale = {0.7, 1.6, 1.1}, shift = {0.4, -0.9, 0.2};
  BatchNorm<double> dense(Shape{3, 1, 1}, o);
  dense.use_given_noise(scale.data(), shift.data());
  check_layer(dense, 5, Mode::train, 80);
  BatchNorm<double> conv(Shape{3, 2, 3}, o);
  conv.use_given_noise(scale.data(), shift.data());
  check_layer(conv, 2, Mode::train, 81);
  o.affine = false;
  BatchNorm<double> plain(Shape{3, 2, 2}, o);
  plain.use_given_noise(scale.data(), shift.data());
  check_layer(plain, 3, Mode::train, 82);
}

TEST_CASE("gradcheck: layer norm, dense and conv") {
  NormOptions o;
  o.kind = NormKind::layer;
  LayerNorm<double> dense(Shape{8, 1, 1}, o);
  check_layer(dense, 3, Mode::train, 20);
  LayerNorm<double> conv(Shape{3, 3, 4}, o);
  check_layer(conv, 2, Mode::train, 21);
  o.affine = false;
  LayerNorm<double> plain(Shape{3, 2, 2}, o);
  check_layer(plain, 2, Mode::train, 22);
}

TEST_CASE("gradcheck: group norm, several group counts") {
  NormOptions o;
  o.kind = NormKind::group;
  for (int G : {1, 2, 4}) {
    o.groups = G;
    GroupNorm<double> conv(Shape{4, 3, 3}, o);
    check_layer(conv, 2, Mode::train, 30 + G);
  }
  o.groups = 3;
  GroupNorm<double> dense(Shape{6, 1, 1}, o);
  check_layer(dense, 3, Mode::train, 35);
}

TEST_CASE("gradcheck: rnn through all its steps, every norm") {
  // T = 6 steps of D = 3, hidden 6, batch 3: the check reaches h_0 through all six steps.
  NormOptions o;
  for (NormKind k : {NormKind::none, NormKind::batch, NormKind::layer, NormKind::group}) {
    o.kind = k;
    o.groups = 3;
    RNN<double> L(Shape{1, 6, 3}, 6, o);
    INFO("rnn norm ", to_string(k));
    check_layer(L, 3, Mode::train, 60 + int(k));
    if (k == NormKind::batch) check_layer(L, 3, Mode::eval_batch_stats, 65);
  }
  o.kind = NormKind::layer;
  o.affine = false;
  RNN<double> plain(Shape{1, 4, 5}, 4, o);
  check_layer(plain, 2, Mode::train, 66);
}

TEST_CASE("gradcheck: softmax cross-entropy") {
  const int N = 4, K = 5;
  Rng rng(40);
  std::vector<double> z(N * K), p(N * K), dz(N * K, 0.0);
  std::vector<int32_t> y = {0, 3, 4, 1};
  for (auto& v : z) v = rng.normal() * 3;
  softmax_xent_forward(p.data(), z.data(), y.data(), N, K);
  softmax_xent_backward(dz.data(), p.data(), y.data(), N, K);
  auto f = [&] { return softmax_xent_forward(p.data(), z.data(), y.data(), N, K); };
  CHECK(check_entries(z, dz, f) < kTol);
}

TEST_CASE("gradcheck: softmax cross-entropy is stable for huge logits") {
  std::vector<float> z = {1000.f, 0.f, -1000.f, 3.f, 1003.f, 1003.f}, p(6);
  std::vector<int32_t> y = {0, 2};
  const double loss = softmax_xent_forward(p.data(), z.data(), y.data(), 2, 3);
  // row 0: loss 0; row 1: log(2*e^1003 + e^3) - 1003 = log 2 (to double precision)
  CHECK(loss == doctest::Approx((0.0 + std::log(2.0)) / 2).epsilon(1e-6));
}

TEST_CASE("gradcheck: whole models through the loss, every norm and placement") {
  struct Case {
    const char* model;
    NormKind norm;
    const char* placement;
    Shape input;
  };
  const Case cases[] = {
      {"mlp", NormKind::batch, "before", {12, 1, 1}},  {"mlp", NormKind::layer, "after", {12, 1, 1}},
      {"mlp", NormKind::group, "before", {12, 1, 1}},  {"cnn", NormKind::batch, "before", {1, 6, 6}},
      {"cnn-small", NormKind::group, "before", {1, 8, 8}},
      {"cnn-small", NormKind::layer, "after", {1, 8, 8}},
      {"cnn-deep", NormKind::batch, "before", {1, 8, 8}},
      {"cnn-deep", NormKind::group, "before", {1, 9, 9}},
      {"rnn", NormKind::batch, "before", {1, 5, 4}},
      {"rnn", NormKind::layer, "before", {1, 5, 4}},
      {"rnn", NormKind::none, "before", {1, 5, 4}},
      {"mlp", NormKind::ghost_batch, "before", {12, 1, 1}},
      {"cnn", NormKind::ghost_batch, "after", {1, 6, 6}},
      {"resnet", NormKind::none, "before", {1, 6, 6}},
      {"resnet", NormKind::batch, "before", {1, 6, 6}},
      {"resnet", NormKind::layer, "before", {1, 6, 6}},
      {"resnet", NormKind::group, "before", {2, 5, 5}},
      {"cnn-plain", NormKind::batch, "before", {1, 6, 6}},
      {"cnn-plain", NormKind::group, "before", {1, 6, 6}}};
  for (const auto& c : cases) {
    ModelConfig cfg;
    cfg.model = c.model;
    cfg.widths = std::string(c.model) == "mlp" ? std::vector<int>{8, 6} : std::vector<int>{4, 4};
    if (std::string(c.model) == "cnn") cfg.widths = {4};
    if (std::string(c.model) == "cnn-deep") cfg.widths = {4, 4, 6};
    if (std::string(c.model) == "rnn") cfg.widths = {6};
    // an identity block, then projections; depth 2 adds an identity block in every stage
    if (std::string(c.model) == "resnet" || std::string(c.model) == "cnn-plain") {
      cfg.widths = {2, 4, 4};
      cfg.depth = c.norm == NormKind::batch || c.norm == NormKind::group ? 2 : 1;
    }
    cfg.activation = ActKind::tanh;  // smooth, so no kink sits near a probe
    cfg.norm.kind = c.norm;
    cfg.norm.groups = 2;
    cfg.norm.ghost_batch = 2;  // two chunks of the batch of 4
    cfg.placement = c.placement;
    cfg.input = c.input;
    cfg.classes = 3;
    const int N = 4;
    auto m = build_model<double>(cfg, N);
    Rng rng(50);
    for (auto& v : m->params()) v = rng.normal() * 0.4;
    std::vector<double> x(N * c.input.size()), probs(N * 3), dlogits(N * 3, 0.0);
    for (auto& v : x) v = rng.normal();
    std::vector<int32_t> y = {0, 1, 2, 1};
    auto f = [&] {
      const double* z = m->forward(x.data(), N, Mode::train);
      return softmax_xent_forward(probs.data(), z, y.data(), N, 3);
    };
    f();
    m->zero_grad();
    softmax_xent_backward(dlogits.data(), probs.data(), y.data(), N, 3);
    m->backward(dlogits.data(), N);
    const std::vector<double> grads = m->grads();
    const double e = check_entries(m->params(), grads, f, 400);
    INFO(c.model, " norm ", to_string(c.norm), " ", c.placement, ": worst relative error ", e);
    CHECK(e < kTol);
  }
}
