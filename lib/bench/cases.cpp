// Benchmark cases (names in cases.h). Inputs are fixed pseudo-random data;
// every buffer is allocated before timing starts.
//   bytes: the least a call must move: norm fwd reads x and writes y (2 x 4 B per
//          value); fwd+bwd also reads dy and x and writes dx (5 x 4 B per value).
//   flops: 2*M*N*K per matrix product.
#include "bench/cases.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "bench/step_timing.h"
#include "tensor/rng.h"
#include "nn/conv2d.h"
#include "nn/dense.h"
#include "nn/model.h"
#include "nn/norm_layers.h"
#include "tensor/gemm.h"

namespace normlab {

const std::vector<std::string>& bench_suites() {
  static const std::vector<std::string> s = {"probe", "norm", "layers", "step"};
  return s;
}

namespace {

// The filter is comma-separated texts; a name matches when it contains any of them.
bool matches(const std::string& filter, const std::string& name) {
  if (filter.empty()) return true;
  std::size_t start = 0;
  while (start <= filter.size()) {
    const std::size_t end = std::min(filter.find(',', start), filter.size());
    const std::string part = filter.substr(start, end - start);
    if (!part.empty() && name.find(part) != std::string::npos) return true;
    start = end + 1;
  }
  return false;
}

std::vector<float> random_vec(std::size_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(r.normal());
  return v;
}

// A layer with its own parameter, gradient and buffer storage.
struct Standalone {
  std::unique_ptr<Layer<float>> layer;
  std::vector<float> p, g, b;
  void bind(int max_batch) {
    std::size_t np = 0, nb = 0;
    for (auto& s : layer->params()) np += s.numel();
    for (auto& s : layer->buffers()) nb += s.numel();
    p = random_vec(np, 3);
    for (auto& v : p) v = 1.f + 0.1f * v;
    g.assign(np, 0.f);
    b.assign(nb, 0.f);
    layer->bind(p.data(), g.data(), b.data());
    layer->reserve(max_batch);
    layer->reset_buffers();
  }
};

void layer_cases(std::vector<BenchRow>& out, const std::string& prefix, Standalone& s, int N,
                 double bytes_fwd, double bytes_bwd, double flops_fwd, double flops_bwd,
                 const TimingOptions& opt, const std::string& filter) {
  Layer<float>& L = *s.layer;
  const std::size_t nin = std::size_t(N) * L.in_shape().size(), nout = std::size_t(N) * L.out_shape().size();
  auto x = random_vec(nin, 1), dy = random_vec(nout, 2);
  std::vector<float> y(nout), dx(nin);
  // prefix SUITE/KIND/SHAPE names the cases SUITE/KIND-fwd/SHAPE and SUITE/KIND-fwdbwd/SHAPE:
  // the filter and the test hook see the names the table and CSV show.
  const std::size_t a = prefix.find('/'), b = prefix.find('/', a + 1);
  const std::string suite = prefix.substr(0, a), kind = prefix.substr(a + 1, b - a - 1), shape = prefix.substr(b + 1);
  const std::string fwd = suite + "/" + kind + "-fwd/" + shape, both = suite + "/" + kind + "-fwdbwd/" + shape;
  if (matches(filter, fwd)) {
    const Timing t = time_it([&] { L.forward(y.data(), x.data(), N, Mode::train); }, options_for_case(opt, fwd));
    out.push_back({"", fwd, t.median_s, t.min_s, double(N), bytes_fwd, flops_fwd});
    out.back().spread(t);
  }
  if (matches(filter, both)) {
    const Timing t = time_it(
        [&] {
          L.forward(y.data(), x.data(), N, Mode::train);
          std::fill(dx.begin(), dx.end(), 0.f);
          std::fill(s.g.begin(), s.g.end(), 0.f);
          L.backward(dx.data(), dy.data(), x.data(), y.data(), N);
        },
        options_for_case(opt, both));
    out.push_back({"", both, t.median_s, t.min_s, double(N), bytes_fwd + bytes_bwd,
                   flops_fwd + flops_bwd});
    out.back().spread(t);
  }
}

void probe_suite(std::vector<BenchRow>& out, const TimingOptions& opt) {
  const std::size_t n = std::size_t(1) << 25;  // 3 arrays x 128 MiB, far beyond any cache
  // Filled by a cheap pattern: the values do not change the time, and 2 x 32M
  // normal draws took seconds of every bench run.
  std::vector<float> a(n), b(n), c(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = 1.f + float(i % 1024) * 1e-3f, c[i] = 2.f - float(i % 512) * 1e-3f;
  const float s = 0.5f;
  const Timing t = time_it(
      [&] {
        float* __restrict pa = a.data();
        const float* __restrict pb = b.data();
        const float* __restrict pc = c.data();
        for (std::size_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
      },
      opt);
  out.push_back({"", "probe/triad", t.median_s, t.min_s, 0, 3.0 * n * 4, 0});
  out.back().spread(t);
  const int M = 512, K = 784, N = 128;
  auto A = random_vec(std::size_t(M) * K, 3), B = random_vec(std::size_t(K) * N, 4);
  std::vector<float> C(std::size_t(M) * N);
  const Timing g = time_it(
      [&] { gemm<float>(false, false, M, N, K, 1.f, A.data(), B.data(), 0.f, C.data()); }, opt);
  out.push_back({"", "probe/sgemm-512x784x128", g.median_s, g.min_s, 0, 0, 2.0 * M * N * K});
  out.back().spread(g);
}

void norm_suite(std::vector<BenchRow>& out, const TimingOptions& opt, const std::string& filter) {
  struct C {
    const char* name;
    NormKind kind;
    int groups;
    Shape shape;
  };
  const C cases[] = {{"bn", NormKind::batch, 1, {32, 28, 28}}, {"ln", NormKind::layer, 1, {32, 28, 28}},
                     {"gn8", NormKind::group, 8, {32, 28, 28}}, {"bn", NormKind::batch, 1, {1024, 1, 1}},
                     {"ln", NormKind::layer, 1, {1024, 1, 1}}};
  const int N = 128;
  for (const auto& c : cases) {
    NormOptions o;
    o.kind = c.kind;
    o.groups = c.groups;
    Standalone s;
    if (c.kind == NormKind::batch) s.layer = std::make_unique<BatchNorm<float>>(c.shape, o);
    else if (c.kind == NormKind::layer) s.layer = std::make_unique<LayerNorm<float>>(c.shape, o);
    else s.layer = std::make_unique<GroupNorm<float>>(c.shape, o);
    s.bind(N);
    const double vals = double(N) * c.shape.size();
    const std::string shape = c.shape.h > 1 ? fmt::format("128x{}x{}x{}", c.shape.c, c.shape.h, c.shape.w)
                                            : fmt::format("128x{}", c.shape.c);
    layer_cases(out, fmt::format("norm/{}/{}", c.name, shape), s, N, 2 * 4 * vals,
                3 * 4 * vals, 0, 0, opt, filter);
  }
}

void layers_suite(std::vector<BenchRow>& out, const TimingOptions& opt, const std::string& filter) {
  std::vector<BenchRow> rows;
  {
    Standalone s;
    s.layer = std::make_unique<Dense<float>>(Shape{784, 1, 1}, 128);
    s.bind(512);
    const double f = 2.0 * 512 * 784 * 128;
    layer_cases(rows, "layers/dense/512x784x128", s, 512, 0, 0, f, 2 * f, opt, filter);
  }
  {
    Standalone s;
    s.layer = std::make_unique<Conv2D<float>>(Shape{1, 28, 28}, 32, 3);
    s.bind(128);
    const double f = 2.0 * 128 * 32 * 9 * 26 * 26;
    layer_cases(rows, "layers/conv/128x1x28x28-32k3", s, 128, 0, 0, f, 2 * f, opt, filter);
  }
  {
    Standalone s;
    s.layer = std::make_unique<Conv2D<float>>(Shape{16, 14, 14}, 32, 3, 1, 1);
    s.bind(128);
    const double f = 2.0 * 128 * 32 * 144 * 196;
    layer_cases(rows, "layers/conv/128x16x14x14-32k3p1", s, 128, 0, 0, f, 2 * f, opt, filter);
  }
  out.insert(out.end(), rows.begin(), rows.end());
}

void step_suite(std::vector<BenchRow>& out, const TimingOptions& opt, const std::string& filter) {
  struct C {
    const char* model;
    const char* norm;
    std::vector<int> batches;
  };
  const C cases[] = {{"mlp", "none", {8, 32, 128, 512}}, {"mlp", "bn", {8, 32, 128, 512}},
                     {"cnn", "none", {2, 8, 32, 128, 512}}, {"cnn", "bn", {2, 8, 32, 128}},
                     {"cnn", "gn", {2, 8, 32, 128}},   {"cnn", "ln", {2, 8, 32, 128}},
                     // the full claims profile's costliest model: 16/32 channels, padded, max-pooled
                     {"cnn-small", "none", {2, 32, 128}}, {"cnn-small", "bn", {2, 32, 128}},
                     {"cnn-small", "gn", {2, 32, 128}},   {"cnn-small", "ln", {2, 32, 128}},
                     {"cnn-deep", "none", {2, 8, 32, 128}}, {"cnn-deep", "bn", {2, 8, 32, 128}},
                     {"cnn-deep", "gn", {2, 8, 32, 128}},   {"cnn-deep", "ln", {2, 8, 32, 128}},
                     {"rnn", "none", {2, 8, 32, 128}},      {"rnn", "bn", {2, 8, 32, 128}},
                     {"rnn", "gn", {2, 8, 32, 128}},        {"rnn", "ln", {2, 8, 32, 128}},
                     // depth 1 (the default): ResNet-8, 16/32/64 channels
                     {"resnet", "none", {2, 8, 32, 128}}, {"resnet", "bn", {2, 8, 32, 128}},
                     {"resnet", "gn", {2, 8, 32, 128}},   {"resnet", "ln", {2, 8, 32, 128}}};
  for (const auto& c : cases)
    for (int N : c.batches) {
      const std::string name = fmt::format("step/{}-{}/b{}", c.model, c.norm, N);
      if (!matches(filter, name)) continue;
      ModelConfig mc;
      mc.model = c.model;
      mc.norm.kind = parse_norm_kind(c.norm);
      mc.norm.groups = 8;
      BenchRow row = time_train_step(mc, OptimConfig{}, N, opt, true);  // plain SGD, as the PyTorch counterpart
      row.name = name;
      out.push_back(row);
    }
}

}  // namespace

std::vector<BenchRow> run_bench(const std::string& suite, const TimingOptions& options,
                                const std::string& filter) {
  std::vector<BenchRow> out;
  TimingOptions opt = options;  // only layer and norm cases honour the test hook's slowdown
  TimingOptions plain = options;
  plain.slowdown = 0;
  for (const auto& s : bench_suites()) {
    if (suite != "all" && suite != s) continue;
    const std::size_t first = out.size();
    if (s == "probe") probe_suite(out, plain);
    if (s == "norm") norm_suite(out, opt, filter);
    if (s == "layers") layers_suite(out, opt, filter);
    if (s == "step") step_suite(out, plain, filter);
    for (std::size_t i = first; i < out.size(); ++i) out[i].suite = s;
  }
  return out;
}

}  // namespace normlab
