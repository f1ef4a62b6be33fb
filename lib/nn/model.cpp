// Model construction from a ModelConfig (see model.h for the architectures).
#include "nn/model.h"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "nn/conv2d.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "core/errors.h"
#include "nn/pool.h"
#include "nn/residual.h"
#include "nn/rnn.h"

namespace normlab {

std::vector<int> default_widths(const std::string& model) {
  if (model == "mlp") return {128, 64};
  if (model == "cnn") return {32};
  if (model == "cnn-small") return {16, 32};
  if (model == "cnn-deep") return {16, 32, 64};
  if (model == "rnn") return {128};
  if (model == "resnet" || model == "cnn-plain") return {16, 32, 64};
  throw ConfigError(fmt::format(
      "model: unknown value '{}' (allowed: mlp, cnn, cnn-small, cnn-deep, rnn, resnet, cnn-plain)", model));
}

ZeroInitResidual parse_zero_init_residual(const std::string& s) {
  if (s == "auto") return ZeroInitResidual::automatic;
  if (s == "true") return ZeroInitResidual::on;
  if (s == "false") return ZeroInitResidual::off;
  throw ConfigError(fmt::format("zero-init-residual: unknown value '{}' (allowed: auto, true, false)", s));
}

std::string to_string(ZeroInitResidual z) {
  switch (z) {
    case ZeroInitResidual::automatic: return "auto";
    case ZeroInitResidual::on: return "true";
    case ZeroInitResidual::off: return "false";
  }
  return "?";
}

namespace {

template <class T>
void add_norm(Sequential<T>& m, const ModelConfig& cfg) {
  NormOptions opt = cfg.norm;
  opt.seed = cfg.seed;
  opt.stream = kLayerStream + m.num_layers();
  switch (opt.kind) {
    case NormKind::none: break;
    case NormKind::batch:
    case NormKind::ghost_batch:
    case NormKind::batch_renorm:
    case NormKind::noisy_batch: m.template add<BatchNorm<T>>(opt); break;
    case NormKind::layer: m.template add<LayerNorm<T>>(opt); break;
    case NormKind::group: m.template add<GroupNorm<T>>(opt); break;
  }
}

template <class T>
void add_block(Sequential<T>& m, const ModelConfig& cfg) {
  if (cfg.placement == "before") add_norm(m, cfg);
  m.template add<Activation<T>>(cfg.activation);
  if (cfg.placement == "after") add_norm(m, cfg);
  if (cfg.dropout > 0) m.template add<Dropout<T>>(cfg.dropout, cfg.seed, kLayerStream + m.num_layers());
}

// Group norm: the group count must divide every normalized layer; names the first that it
// does not, by its state_dict index (layer_of(i) for the i-th width).
template <class F>
void check_groups(const ModelConfig& cfg, const std::vector<int>& widths, const char* what,
                  F layer_of) {
  if (cfg.norm.kind != NormKind::group) return;
  for (std::size_t i = 0; i < widths.size(); ++i)
    if (cfg.norm.groups < 1 || widths[i] % cfg.norm.groups != 0)
      throw ConfigError(fmt::format(
          "groups: {} does not divide the {} {} of layer {} of model {} (widths {}; allowed: "
          "a divisor of every width)", cfg.norm.groups, widths[i], what, layer_of(i), cfg.model,
          fmt::join(widths, ",")));
}

// resnet (skip = true) and cnn-plain (skip = false): a stem conv, three stages of
// cfg.depth blocks (stride 2 into stages 2 and 3), a global average pool.
template <class T>
std::unique_ptr<Sequential<T>> assemble_resnet(const ModelConfig& cfg, const std::vector<int>& widths,
                                               bool skip) {
  if (widths.size() != 3)
    throw ConfigError(fmt::format("widths: {} takes 3 stage widths (channels), got {}", cfg.model,
                                  fmt::join(widths, ",")));
  if (cfg.depth < 1) throw ConfigError(fmt::format("depth: {} blocks per stage (allowed: >= 1)", cfg.depth));
  if (cfg.placement != "before")
    throw ConfigError(fmt::format("norm-placement: {} puts each norm after its conv, before the activation "
                                  "(allowed: before)", cfg.model));
  if (cfg.dropout > 0)
    throw ConfigError(fmt::format("dropout: {} has no dropout layers (allowed: 0), got {}", cfg.model, cfg.dropout));
  if (!skip && cfg.zero_init_residual == ZeroInitResidual::on)
    throw ConfigError("zero-init-residual: cnn-plain has no skips, so a zeroed block would zero the net "
                      "(allowed: auto, false)");
  const bool has_norm = cfg.norm.kind != NormKind::none;
  // layer index of stage s's first block: stem conv, norm, activation, then the blocks
  const int stem = has_norm ? 3 : 2;
  check_groups(cfg, widths, "channels", [&](std::size_t s) {
    return s == 0 ? std::string("1 (the stem's GroupNorm)")
                  : fmt::format("{} (block norm1 of stage {})", stem + int(s) * cfg.depth, s + 1);
  });
  const bool zero = skip && (cfg.zero_init_residual == ZeroInitResidual::on ||
                             (cfg.zero_init_residual == ZeroInitResidual::automatic && !has_norm));
  if (zero && has_norm && !cfg.norm.affine)
    throw ConfigError("zero-init-residual: the block's last norm has no gamma to zero with affine = false "
                      "(allowed: affine = true, or zero-init-residual = auto or false)");
  auto m = std::make_unique<Sequential<T>>(cfg.input);
  m->template add<Conv2D<T>>(widths[0], 3, 1, 1);
  add_norm(*m, cfg);
  m->template add<Activation<T>>(cfg.activation);
  for (int s = 0; s < 3; ++s)
    for (int b = 0; b < cfg.depth; ++b) {
      NormOptions o = cfg.norm;
      o.seed = cfg.seed;
      o.stream = kLayerStream + (uint64_t(m->num_layers() + 1) << 16);  // + part index
      m->template add<ResidualBlock<T>>(widths[s], s > 0 && b == 0 ? 2 : 1, skip, cfg.activation, o, zero);
    }
  const Shape last = m->output_shape();
  if (last.h != last.w)
    throw ConfigError(fmt::format("model: {} pools a square map globally; input {} gives {}", cfg.model,
                                  cfg.input.str(), last.str()));
  m->template add<AvgPool2D<T>>(last.h);  // global average pool: (w, 1, 1)
  m->template add<Flatten<T>>();
  return m;
}

// The layers of the model, shapes only: nothing proportional to its size is
// allocated until finalize().
template <class T>
std::unique_ptr<Sequential<T>> assemble_model(const ModelConfig& cfg) {
  const std::vector<int> widths = cfg.widths.empty() ? default_widths(cfg.model) : cfg.widths;
  default_widths(cfg.model);  // validates the name
  if (cfg.placement != "before" && cfg.placement != "after")
    throw ConfigError(fmt::format("norm-placement: unknown value '{}' (allowed: before, after)",
                                  cfg.placement));
  for (int w : widths)
    if (w < 1) throw ConfigError(fmt::format("widths: {} has a width < 1", fmt::join(widths, ",")));
  if (cfg.classes < 2) throw ConfigError("classes: need at least 2");
  if (!(cfg.dropout >= 0 && cfg.dropout < 1))
    throw ConfigError(fmt::format("dropout: {} is not a drop probability (allowed: 0 <= p < 1)",
                                  cfg.dropout));

  std::unique_ptr<Sequential<T>> m;
  if (cfg.model == "resnet" || cfg.model == "cnn-plain") {
    m = assemble_resnet<T>(cfg, widths, cfg.model == "resnet");
  } else if (cfg.model == "mlp") {
    m = std::make_unique<Sequential<T>>(Shape{int(cfg.input.size()), 1, 1});
    for (int w : widths) {
      m->template add<Dense<T>>(w);
      add_block(*m, cfg);
    }
  } else if (cfg.model == "cnn") {
    if (widths.size() != 1)
      throw ConfigError(fmt::format("widths: cnn takes one conv width (channels), got {}",
                                    fmt::join(widths, ",")));
    m = std::make_unique<Sequential<T>>(cfg.input);
    m->template add<Conv2D<T>>(widths[0], 3);
    add_block(*m, cfg);
    m->template add<Flatten<T>>();
  } else if (cfg.model == "cnn-deep") {
    if (widths.size() < 3 || widths.size() > 4)
      throw ConfigError(fmt::format("widths: cnn-deep takes 3 or 4 conv widths, got {}",
                                    fmt::join(widths, ",")));
    // block i is layers 3i (conv), 3i+1, 3i+2 (norm and activation, in placement order)
    check_groups(cfg, widths, "channels", [&](std::size_t i) {
      return fmt::format("{} (the GroupNorm of conv {}'s block)", 3 * i + (cfg.placement == "before" ? 1 : 2), 3 * i);
    });
    m = std::make_unique<Sequential<T>>(cfg.input);
    for (int w : widths) {
      m->template add<Conv2D<T>>(w, 3, 2, 1);  // stride 2: 28 -> 14 -> 7 -> 4 (-> 2)
      add_block(*m, cfg);
    }
    m->template add<Flatten<T>>();
  } else if (cfg.model == "rnn") {
    if (widths.size() != 1)
      throw ConfigError(fmt::format("widths: rnn takes one hidden width, got {}",
                                    fmt::join(widths, ",")));
    if (cfg.placement != "before")
      throw ConfigError("norm-placement: rnn normalizes the recurrent pre-activation (allowed: before)");
    const NormKind k = cfg.norm.kind;
    if (k != NormKind::none && k != NormKind::batch && k != NormKind::layer && k != NormKind::group)
      throw ConfigError(fmt::format("norm: rnn normalizes with none, batch, layer or group, not {}", to_string(k)));
    if (cfg.dropout > 0)
      throw ConfigError(fmt::format("dropout: rnn has no hidden blocks to drop from (allowed: 0), got {}", cfg.dropout));
    check_groups(cfg, widths, "hidden features", [](std::size_t) { return "0 (the rnn's norm)"; });
    m = std::make_unique<Sequential<T>>(cfg.input);
    m->template add<RNN<T>>(widths[0], cfg.norm);
  } else {  // cnn-small
    if (widths.empty() || widths.size() > 3)
      throw ConfigError(fmt::format("widths: cnn-small takes 1 to 3 conv widths, got {}",
                                    fmt::join(widths, ",")));
    m = std::make_unique<Sequential<T>>(cfg.input);
    for (int w : widths) {
      if (m->output_shape().h < 2)
        throw ConfigError(fmt::format("widths: {} conv blocks do not fit a {} input",
                                      widths.size(), cfg.input.str()));
      m->template add<Conv2D<T>>(w, 3, 1, 1);
      add_block(*m, cfg);
      m->template add<MaxPool2D<T>>(2);
    }
    m->template add<Flatten<T>>();
  }
  m->template add<Dense<T>>(cfg.classes);
  return m;
}

}  // namespace

template <class T>
std::unique_ptr<Sequential<T>> build_model(const ModelConfig& cfg, int max_batch, int max_backward) {
  auto m = assemble_model<T>(cfg);
  m->finalize(max_batch, max_backward);
  return m;
}

double model_memory_bytes(const ModelConfig& cfg, int max_batch, int max_backward) {
  return assemble_model<float>(cfg)->memory_bytes(max_batch, max_backward);
}

template <class T>
std::vector<std::size_t> preactivation_layers(const Sequential<T>& model) {
  std::vector<std::size_t> out;
  for (std::size_t i = 1; i < model.num_layers(); ++i)
    if (dynamic_cast<const Activation<T>*>(&model.layer(i))) out.push_back(i - 1);
  return out;
}

namespace {
// The hidden weight layers: every top-level dense and conv layer but the last.
template <class T>
std::vector<std::size_t> hidden_weight_layers(const Sequential<T>& model) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < model.num_layers(); ++i) {
    const std::string k = model.layer(i).kind();
    if (k == "linear" || k == "conv2d") out.push_back(i);
  }
  if (!out.empty()) out.pop_back();  // the output layer: no norm follows it
  return out;
}
}  // namespace

template <class T>
std::vector<std::pair<std::size_t, std::size_t>> hidden_weight_ranges(const Sequential<T>& model) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t i : hidden_weight_layers(model)) {
    const std::size_t end = i + 1 < model.num_layers() ? model.param_offset(i + 1) : model.params().size();
    out.emplace_back(model.param_offset(i), end);
  }
  return out;
}

template <class T>
double hidden_weight_norm(const Sequential<T>& model) {
  for (std::size_t i = 0; i < model.num_layers(); ++i) {
    const std::string k = model.layer(i).kind();
    if (k == "rnn" || k == "resblock" || k == "plainblock") return std::nan("");
  }
  double sq = 0;
  for (std::size_t i : hidden_weight_layers(model)) sq += weight_sq_norm(model, i);  // in layer order
  return std::sqrt(sq);
}

template <class T>
double weight_sq_norm(const Sequential<T>& model, std::size_t i) {
  const T* w = model.params().data() + model.param_offset(i);  // the layer's first tensor: its weight
  const std::size_t n = model.layer(i).params().front().numel();
  double sq = 0;
  for (std::size_t j = 0; j < n; ++j) sq += double(w[j]) * double(w[j]);
  return sq;
}

template std::unique_ptr<Sequential<float>> build_model<float>(const ModelConfig&, int, int);
template std::unique_ptr<Sequential<double>> build_model<double>(const ModelConfig&, int, int);
template std::vector<std::size_t> preactivation_layers<float>(const Sequential<float>&);
template std::vector<std::size_t> preactivation_layers<double>(const Sequential<double>&);
template std::vector<std::pair<std::size_t, std::size_t>> hidden_weight_ranges<float>(const Sequential<float>&);
template std::vector<std::pair<std::size_t, std::size_t>> hidden_weight_ranges<double>(const Sequential<double>&);
template double hidden_weight_norm<float>(const Sequential<float>&);
template double hidden_weight_norm<double>(const Sequential<double>&);
template double weight_sq_norm<float>(const Sequential<float>&, std::size_t);
template double weight_sq_norm<double>(const Sequential<double>&, std::size_t);

}  // namespace normlab
