// cnn-deep, rnn, resnet and cnn-plain against PyTorch (fixtures from scripts/make_fixtures.py,
// written by scripts/fixtures_models.py).
//
// models.safetensors (torch in float64): per case a state_dict, a train-mode batch and output
// gradient dy (loss = sum(y*dy)), torch's logits y, input gradient dx, every parameter's
// gradient, every buffer after that train forward (BN: running averages, per time step for
// the rnn) and eval-mode logits on a second batch. Each case runs in double and in float;
// error of a against r: |a - r| / max(1, |r|), max over a tensor, asserted <= 1e-9 (double)
// and, in float, <= max(1e-5, 4 x torch's own float32 error on the case) (torch_f32_err in the
// fixture): batch norm over a batch of 3 or 4, through 28 recurrent steps, is conditioned
// so that float32 rounding alone moves some gradients by 2e-5 in torch too.
//
// traj_<m>.safetensors (torch in float32): five SGD-momentum steps of cnn-deep with BN, of
// the rnn with LN (and clip-norm 1), and of resnet and cnn-plain (depth 1) with each of
// none, BN, LN and GN (resnet without a norm from its zero-init-residual start), from
// traj_<m>_init.safetensors loaded by load_checkpoint.
// Asserted: each step's loss |a - r| / |r| <= 1e-4, and each final tensor
// max|a - r| / max|r| <= 1e-4.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/checkpoint.h"
#include "nn/model.h"
#include "tensor/safetensors.h"
#include "train/train_step.h"

using namespace normlab;

namespace {

constexpr double kTolDouble = 1e-9, kTolFloat = 1e-5, kTrajTol = 1e-4;

ModelConfig config_from_json(const nlohmann::json& j) {
  ModelConfig c;
  c.model = j.at("model");
  c.widths = j.at("widths").get<std::vector<int>>();
  c.activation = parse_activation(j.value("activation", std::string("relu")));
  c.norm.kind = parse_norm_kind(j.value("norm", std::string("none")));
  c.norm.groups = j.value("groups", 8);
  c.norm.eps = j.value("eps", 1e-5);
  c.norm.momentum = j.value("momentum", 0.1);
  c.norm.affine = j.value("affine", true);
  c.placement = j.value("placement", std::string("before"));
  c.depth = j.value("depth", 1);
  const auto in = j.at("input").get<std::vector<int>>();
  c.input = Shape{in.at(0), in.at(1), in.at(2)};
  c.classes = j.value("classes", 10);
  return c;
}

const SafeTensorFile& models_fixture() {
  static const SafeTensorFile f =
      read_safetensors(std::string(NORMLAB_FIXTURES) + "/models.safetensors");
  return f;
}

template <class T>
double max_err(const T* a, const std::vector<double>& r) {
  double e = 0;
  for (std::size_t i = 0; i < r.size(); ++i)
    e = std::max(e, std::abs(double(a[i]) - r[i]) / std::max(1.0, std::abs(r[i])));
  return e;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Runs one case in precision T; returns the worst error and names the tensor.
template <class T>
double run_case(const nlohmann::json& c, std::string& worst) {
  const SafeTensorFile& f = models_fixture();
  const std::string p = c.at("name").get<std::string>() + ".";
  const ModelConfig cfg = config_from_json(c.at("config"));
  const int N = c.at("N"), Ne = c.at("N_eval");
  auto model = build_model<T>(cfg, std::max(N, Ne));
  // Every tensor of the model comes from torch's state_dict, and nothing else is there.
  std::size_t n_state = 0;
  for (const auto& [k, v] : f.tensors) n_state += k.rfind(p + "state.", 0) == 0;
  const auto state = model->state();
  REQUIRE(state.size() == n_state);
  for (const auto& e : state) {
    const auto ref = f.at(p + "state." + e.name).to_double();
    REQUIRE(ref.size() == e.spec.numel());
    std::copy(ref.begin(), ref.end(), e.data);
  }
  double err = 0;
  auto note = [&](const std::string& what, double e) {
    if (e > err) {
      err = e;
      worst = what;
    }
  };

  // Train mode through the layers one by one, so the input gradient is seen too.
  const std::vector<T> x = as<T>(f.at(p + "x").to_double());
  const std::vector<T> dy = as<T>(f.at(p + "dy").to_double());
  const std::size_t L = model->num_layers();
  std::vector<std::vector<T>> acts(L);
  const T* in = x.data();
  for (std::size_t i = 0; i < L; ++i) {
    acts[i].assign(std::size_t(N) * model->layer(i).out_shape().size(), T(0));
    model->layer(i).forward(acts[i].data(), in, N, Mode::train);
    in = acts[i].data();
  }
  note("y", max_err(acts[L - 1].data(), f.at(p + "y").to_double()));
  model->zero_grad();
  std::vector<T> g = dy;
  for (std::size_t i = L; i-- > 0;) {
    std::vector<T> din(std::size_t(N) * model->layer(i).in_shape().size(), T(0));
    model->layer(i).backward(din.data(), g.data(), i ? acts[i - 1].data() : x.data(),
                             acts[i].data(), N);
    g = std::move(din);
  }
  note("dx", max_err(g.data(), f.at(p + "dx").to_double()));
  for (const auto& e : state) {
    if (e.trainable) {
      const T* grad = model->grads().data() + (e.data - model->params().data());
      note("grad." + e.name, max_err(grad, f.at(p + "grad." + e.name).to_double()));
    } else {
      note("after." + e.name, max_err(e.data, f.at(p + "after." + e.name).to_double()));
    }
  }
  const std::vector<T> xe = as<T>(f.at(p + "x_eval").to_double());
  const T* ye = model->forward(xe.data(), Ne, Mode::eval);
  note("y_eval", max_err(ye, f.at(p + "y_eval").to_double()));
  return err;
}

}  // namespace

TEST_CASE("torch models: cnn-deep, rnn, resnet and cnn-plain, every norm: logits, gradients, running statistics") {
  const auto cases = nlohmann::json::parse(models_fixture().metadata.at("cases"));
  REQUIRE(cases.size() == 18);
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    SUBCASE(name.c_str()) {
      std::string wd, wf;
      const double ed = run_case<double>(c, wd);
      const double ef = run_case<float>(c, wf);
      MESSAGE(name, ": max error double ", ed, " (", wd, "), float ", ef, " (", wf, "); torch float32 ",
              models_fixture().at(name + ".torch_f32_err").to_double()[0]);
      CHECK_MESSAGE(ed <= kTolDouble, name, " double: ", wd, " error ", ed);
      const double tol = std::max(kTolFloat, 4 * models_fixture().at(name + ".torch_f32_err").to_double()[0]);
      CHECK_MESSAGE(ef <= tol, name, " float: ", wf, " error ", ef, " (tol ", tol, ")");
    }
  }
}

TEST_CASE("torch models: five training steps of cnn-deep (BN), rnn (LN), resnet and cnn-plain match PyTorch") {
  for (const char* name : {"cnndeep_bn", "rnn_ln", "resnet_none", "resnet_bn", "resnet_ln", "resnet_gn",
                           "cnnplain_none", "cnnplain_bn", "cnnplain_ln", "cnnplain_gn"}) {
    SUBCASE(name) {
      const std::string dir = NORMLAB_FIXTURES;
      const SafeTensorFile f = read_safetensors(dir + "/traj_" + name + ".safetensors");
      const ModelConfig cfg = config_from_json(nlohmann::json::parse(f.metadata.at("config")));
      const auto oj = nlohmann::json::parse(f.metadata.at("optimizer"));
      const int B = std::stoi(f.metadata.at("batch"));
      auto model = build_model<float>(cfg, B);
      load_checkpoint(dir + "/traj_" + name + "_init.safetensors", *model);
      OptimConfig oc;
      oc.kind = oj.at("kind");
      oc.momentum = oj.at("momentum");
      oc.clip_norm = oj.at("clip_norm");
      TrainStep step(*model, oc, B);
      const auto X = f.at("X").to_float();
      const auto labels = f.at("labels").to_double();
      const auto ref_loss = f.at("loss").to_double();
      const std::size_t D = model->input_shape().size();
      REQUIRE(X.size() == ref_loss.size() * B * D);
      double loss_err = 0;
      for (std::size_t s = 0; s < ref_loss.size(); ++s) {
        std::vector<int32_t> y(B);
        for (int i = 0; i < B; ++i) y[i] = int32_t(labels[s * B + i]);
        const StepOutcome o = step.run(X.data() + s * B * D, y.data(), B, oj.at("lr"), 1e30);
        REQUIRE(o.updated);
        loss_err = std::max(loss_err, std::abs(o.loss - ref_loss[s]) / std::abs(ref_loss[s]));
      }
      double final_err = 0;
      std::string worst;
      for (const auto& e : model->state()) {
        const auto r = f.at("final." + e.name).to_double();
        REQUIRE(r.size() == e.spec.numel());
        double num = 0, den = 0;
        for (std::size_t i = 0; i < r.size(); ++i) {
          num = std::max(num, std::abs(double(e.data[i]) - r[i]));
          den = std::max(den, std::abs(r[i]));
        }
        const double err = num / std::max(den, 1e-30);
        if (err >= final_err) {
          final_err = err;
          worst = e.name;
        }
      }
      MESSAGE(std::string(name), ": loss error ", loss_err, ", final state error ", final_err, " (", worst, ")");
      CHECK(loss_err <= kTrajTol);
      CHECK_MESSAGE(final_err <= kTrajTol, worst, " error ", final_err);
    }
  }
}
