// BatchNorm, LayerNorm and GroupNorm against PyTorch (fixtures from scripts/make_fixtures.py,
// tests/fixtures/norms.safetensors, computed by torch in float64).
//
// Per case: train forward y, input gradient dx, dgamma, dbeta (loss = sum(y*dy)); for BN the
// running mean/var after 1 and 3 train forwards (unbiased variance, momentum as given) and
// num_batches_tracked; then eval mode (BN with the running stats) forward and gradients.
//
// Error of a value a against the reference r: |a - r| / max(1, |r|) (absolute for |r| <= 1,
// relative above). Asserted max over a tensor: float path 1e-5, double path 1e-10.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/norm_layers.h"
#include "tensor/safetensors.h"

using namespace normlab;

namespace {

struct NormCase {
  std::string name, kind;
  int N, C, H, W;
  bool dense;
  int groups;
  bool affine;
  double eps, momentum;
  int N_eval;
};

const SafeTensorFile& norm_fixture() {
  static const SafeTensorFile f = read_safetensors(std::string(NORMLAB_FIXTURES) + "/norms.safetensors");
  return f;
}

std::vector<NormCase> norm_cases() {
  std::vector<NormCase> out;
  for (const auto& j : nlohmann::json::parse(norm_fixture().metadata.at("cases")))
    out.push_back({j.at("name"), j.at("kind"), j.at("N"), j.at("C"), j.at("H"), j.at("W"),
                   j.at("dense"), j.at("groups"), j.at("affine"), j.at("eps"), j.at("momentum"),
                   j.at("N_eval")});
  return out;
}

double max_err(const double* a, const std::vector<double>& ref) {
  double e = 0;
  for (std::size_t i = 0; i < ref.size(); ++i)
    e = std::max(e, std::abs(a[i] - ref[i]) / std::max(1.0, std::abs(ref[i])));
  return e;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <class T>
std::unique_ptr<NormLayer<T>> make_norm(const NormCase& c) {
  NormOptions o;
  o.kind = parse_norm_kind(c.kind);
  o.groups = c.groups > 0 ? c.groups : 1;
  o.eps = c.eps;
  o.momentum = c.kind == "batch" ? c.momentum : 0.1;
  o.affine = c.affine;
  const Shape in = c.dense ? Shape{c.C, 1, 1} : Shape{c.C, c.H, c.W};
  if (c.kind == "batch") return std::make_unique<BatchNorm<T>>(in, o);
  if (c.kind == "layer") return std::make_unique<LayerNorm<T>>(in, o);
  return std::make_unique<GroupNorm<T>>(in, o);
}

// Runs one fixture case at precision T; records the worst error per quantity in `worst`
// and checks each against tol.
template <class T>
void run_case(const NormCase& c, double tol, std::map<std::string, double>& worst) {
  const SafeTensorFile& f = norm_fixture();
  auto ref = [&](const std::string& k) { return f.at(c.name + "." + k).to_double(); };
  auto check = [&](const std::string& what, const T* a, const std::vector<double>& r) {
    std::vector<double> ad(a, a + r.size());
    const double e = max_err(ad.data(), r);
    worst[c.kind + " " + what] = std::max(worst[c.kind + " " + what], e);
    CHECK_MESSAGE(e <= tol, c.name, ": ", what, " max error ", e, " > ", tol);
  };

  auto L = make_norm<T>(c);
  std::size_t np = 0, nb = 0;
  for (const auto& s : L->params()) np += s.numel();
  for (const auto& s : L->buffers()) nb += s.numel();
  REQUIRE(np == (c.affine ? 2 * ref("gamma").size() : 0));
  std::vector<T> p(np), g(np, T(0)), b(nb);
  if (c.affine) {
    auto gamma = ref("gamma"), beta = ref("beta");
    std::copy(gamma.begin(), gamma.end(), p.begin());
    std::copy(beta.begin(), beta.end(), p.begin() + long(gamma.size()));
  }
  L->bind(p.data(), g.data(), b.data());
  L->reserve(std::max(c.N, c.N_eval));
  L->reset_buffers();
  const std::size_t half = np / 2;

  // Train mode.
  const auto x1 = as<T>(ref("x1")), dy1 = as<T>(ref("dy1"));
  std::vector<T> y(x1.size()), dx(x1.size(), T(0));
  L->forward(y.data(), x1.data(), c.N, Mode::train);
  check("train y", y.data(), ref("y1"));
  L->backward(dx.data(), dy1.data(), x1.data(), y.data(), c.N);
  check("train dx", dx.data(), ref("dx1"));
  if (c.affine) {
    check("train dgamma", g.data(), ref("dgamma1"));
    check("train dbeta", g.data() + half, ref("dbeta1"));
  }
  if (c.kind == "batch") {
    check("running_mean after 1", b.data(), ref("rm1"));
    check("running_var after 1", b.data() + c.C, ref("rv1"));
    const auto x2 = as<T>(ref("x2")), x3 = as<T>(ref("x3"));
    L->forward(y.data(), x2.data(), c.N, Mode::train);
    L->forward(y.data(), x3.data(), c.N, Mode::train);
    check("running_mean after 3", b.data(), ref("rm3"));
    check("running_var after 3", b.data() + c.C, ref("rv3"));
    CHECK(b[2 * std::size_t(c.C)] == T(3));  // num_batches_tracked
    // Inference with batch statistics: x1 normalizes exactly as in training
    // (PyTorch's y1), whatever the running averages are now, and leaves them alone.
    const std::vector<T> before = b;
    L->forward(y.data(), x1.data(), c.N, Mode::eval_batch_stats);
    check("eval_batch_stats y", y.data(), ref("y1"));
    CHECK(b == before);
  }

  // Eval mode (BN: running statistics; LN/GN: per-sample statistics as in training).
  std::fill(g.begin(), g.end(), T(0));
  const auto xe = as<T>(ref("x_eval")), dye = as<T>(ref("dy_eval"));
  std::vector<T> ye(xe.size()), dxe(xe.size(), T(0));
  L->forward(ye.data(), xe.data(), c.N_eval, Mode::eval);
  check("eval y", ye.data(), ref("y_eval"));
  L->backward(dxe.data(), dye.data(), xe.data(), ye.data(), c.N_eval);
  check("eval dx", dxe.data(), ref("dx_eval"));
  if (c.affine) {
    check("eval dgamma", g.data(), ref("dgamma_eval"));
    check("eval dbeta", g.data() + half, ref("dbeta_eval"));
  }
}

template <class T>
void run_all(const char* kind, double tol) {
  const auto cases = norm_cases();
  std::map<std::string, double> worst;
  int n = 0;
  for (const auto& c : cases) {
    if (c.kind != kind) continue;
    ++n;
    INFO("case ", c.name);
    run_case<T>(c, tol, worst);
  }
  CHECK(n >= 4);
  double all = 0;
  for (const auto& [k, e] : worst) all = std::max(all, e);
  std::string detail;
  for (const auto& [k, e] : worst) detail += "\n  " + k + ": " + std::to_string(e);
  MESSAGE(std::string(kind), " norm (", std::string(sizeof(T) == 4 ? "float" : "double"), ", ", n,
          " cases): worst error ", all, " (tolerance ", tol, ")", detail);
}

}  // namespace

TEST_CASE("torch norms: fixture covers dense and conv shapes and group counts and no-affine") {
  const auto cases = norm_cases();
  int dense = 0, conv = 0, noaffine = 0;
  std::map<int, int> gn_groups;
  for (const auto& c : cases) {
    (c.dense ? dense : conv)++;
    noaffine += !c.affine;
    if (c.kind == "group") gn_groups[c.groups]++;
  }
  CHECK(dense >= 4);
  CHECK(conv >= 4);
  CHECK(noaffine >= 3);
  CHECK(gn_groups.size() >= 3);
}

TEST_CASE("torch norms: batch norm matches PyTorch in float to 1e-5") { run_all<float>("batch", 1e-5); }
TEST_CASE("torch norms: batch norm matches PyTorch in double to 1e-10") { run_all<double>("batch", 1e-10); }
TEST_CASE("torch norms: layer norm matches PyTorch in float to 1e-5") { run_all<float>("layer", 1e-5); }
TEST_CASE("torch norms: layer norm matches PyTorch in double to 1e-10") { run_all<double>("layer", 1e-10); }
TEST_CASE("torch norms: group norm matches PyTorch in float to 1e-5") { run_all<float>("group", 1e-5); }
TEST_CASE("torch norms: group norm matches PyTorch in double to 1e-10") { run_all<double>("group", 1e-10); }
