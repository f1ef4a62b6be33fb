// A training step that skips the gradient norm (train/train_step.h): all_finite must
// decide exactly what isfinite(global_norm) decides, and the update must be the same
// bytes with or without the norm, clipped or not.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "init/init.h"
#include "nn/model.h"
#include "tensor/rng.h"
#include "train/train_step.h"

using namespace normlab;

namespace {
float bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace

TEST_CASE("all_finite: the same answer as isfinite(global_norm) for every planted value and place") {
  const float inf = std::numeric_limits<float>::infinity();
  // Inf, -Inf, quiet and signalling NaNs, a NaN with the sign bit; and finite extremes that must pass.
  const float bad[] = {inf, -inf, std::nanf(""), bits(0x7f800001u), bits(0xffc00000u)};
  const float good[] = {FLT_MAX, -FLT_MAX, FLT_MIN / 4, -0.f, bits(0x7f7fffffu)};
  Rng r(11);
  for (std::size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000}) {
    std::vector<float> g(n);
    for (auto& v : g) v = float(r.normal());
    CHECK(all_finite(g.data(), n));
    CHECK(std::isfinite(global_norm(g.data(), n)));
    for (std::size_t p = 0; p < n; p += (n > 70 ? 37 : 1)) {
      const float keep = g[p];
      for (float b : bad) {
        g[p] = b;
        CHECK_FALSE(all_finite(g.data(), n));
        CHECK_FALSE(std::isfinite(global_norm(g.data(), n)));
      }
      for (float v : good) {
        g[p] = v;
        CHECK(all_finite(g.data(), n));
        CHECK(std::isfinite(global_norm(g.data(), n)));  // squares of FLT_MAX do not overflow a double
      }
      g[p] = keep;
    }
  }
}

TEST_CASE("train step: without the norm the update is the same bytes; the norm is NaN only when skipped") {
  for (double clip : {0.0, 0.5}) {
    for (const char* kind : {"sgd", "momentum"}) {
      CAPTURE(clip);
      CAPTURE(kind);
      ModelConfig mc;
      mc.model = "mlp";
      mc.widths = {32, 16};
      mc.norm.kind = NormKind::batch;
      OptimConfig oc;
      oc.kind = kind;
      oc.momentum = 0.9;
      oc.clip_norm = clip;
      auto a = build_model<float>(mc, 8), b = build_model<float>(mc, 8);
      init_model(*a, InitSpec{}, 3);
      init_model(*b, InitSpec{}, 3);
      TrainStep sa(*a, oc, 8), sb(*b, oc, 8);
      Rng r(5);
      std::vector<float> x(8 * 784);
      std::vector<int32_t> y(8);
      for (int step = 0; step < 5; ++step) {
        for (auto& v : x) v = float(r.normal());
        for (int i = 0; i < 8; ++i) y[i] = int32_t(r.next_u64() % 10);
        const StepOutcome oa = sa.run(x.data(), y.data(), 8, 0.1, 1e30, true);
        const StepOutcome ob = sb.run(x.data(), y.data(), 8, 0.1, 1e30, false);
        REQUIRE(oa.updated);
        REQUIRE(ob.updated);
        CHECK(oa.loss == ob.loss);
        CHECK(std::isfinite(oa.grad_norm));
        if (clip > 0)
          CHECK(ob.grad_norm == oa.grad_norm);  // clipping needs it: computed once, the same sum
        else
          CHECK(std::isnan(ob.grad_norm));
        CHECK(std::memcmp(a->params().data(), b->params().data(), a->params().size() * sizeof(float)) == 0);
      }
    }
  }
}
