// Model construction from a ModelConfig (see model.h for the architectures).
#include "nn/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "nn/conv2d.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "core/errors.h"
#include "nn/pool.h"
#include "nn/rnn.h"

namespace normlab {

std::vector<int> default_widths(const std::string& model) {
  if (model == "mlp") return {128, 64};
  if (model == "cnn") return {32};
  if (model == "cnn-small") return {16, 32};
  if (model == "cnn-deep") return {16, 32, 64};
  if (model == "rnn") return {128};
  throw ConfigError(fmt::format(
      "model: unknown value '{}' (allowed: mlp, cnn, cnn-small, cnn-deep, rnn)", model));
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
  if (cfg.model == "mlp") {
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
std::unique_ptr<Sequential<T>> build_model(const ModelConfig& cfg, int max_batch) {
  auto m = assemble_model<T>(cfg);
  m->finalize(max_batch);
  return m;
}

double model_memory_bytes(const ModelConfig& cfg, int max_batch) {
  return assemble_model<float>(cfg)->memory_bytes(max_batch);
}

template <class T>
std::vector<std::size_t> preactivation_layers(const Sequential<T>& model) {
  std::vector<std::size_t> out;
  for (std::size_t i = 1; i < model.num_layers(); ++i)
    if (dynamic_cast<const Activation<T>*>(&model.layer(i))) out.push_back(i - 1);
  return out;
}

template std::unique_ptr<Sequential<float>> build_model<float>(const ModelConfig&, int);
template std::unique_ptr<Sequential<double>> build_model<double>(const ModelConfig&, int);
template std::vector<std::size_t> preactivation_layers<float>(const Sequential<float>&);
template std::vector<std::size_t> preactivation_layers<double>(const Sequential<double>&);

}  // namespace normlab
