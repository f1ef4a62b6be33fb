// Checkpoints: the model's state entries <-> safetensors tensors, one to one.
#include "nn/checkpoint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/errors.h"
#include "tensor/safetensors.h"

namespace normlab {

namespace {
std::vector<int64_t> shape64(const TensorSpec& s) { return {s.shape.begin(), s.shape.end()}; }
}  // namespace

void save_checkpoint(const std::string& path, Sequential<float>& model,
                     const std::map<std::string, std::string>& metadata) {
  SafeTensorFile f;
  f.metadata = metadata;
  for (const auto& e : model.state()) {
    if (e.spec.integer) {
      std::vector<int64_t> v(e.spec.numel());
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = int64_t(e.data[i]);
      f.tensors[e.name] = make_i64(v.data(), shape64(e.spec));
    } else {
      f.tensors[e.name] = make_f32(e.data, shape64(e.spec));
    }
  }
  write_safetensors(path, f);
}

void load_checkpoint(const std::string& path, Sequential<float>& model) {
  const SafeTensorFile f = read_safetensors(path);
  const auto entries = model.state();
  for (const auto& e : entries) {
    auto it = f.tensors.find(e.name);
    if (it == f.tensors.end())
      throw ConfigError(fmt::format("{}: missing tensor '{}' of shape [{}]", path, e.name,
                                    fmt::join(e.spec.shape, ",")));
    if (it->second.shape != shape64(e.spec))
      throw ConfigError(fmt::format("{}: tensor '{}' has shape [{}], the model needs [{}]", path,
                                    e.name, fmt::join(it->second.shape, ","),
                                    fmt::join(e.spec.shape, ",")));
  }
  for (const auto& [name, t] : f.tensors) {
    bool found = false;
    for (const auto& e : entries) found = found || e.name == name;
    if (!found) throw ConfigError(fmt::format("{}: unexpected tensor '{}' for this model", path, name));
  }
  for (const auto& e : entries) {
    const auto v = f.tensors.at(e.name).to_float();
    std::copy(v.begin(), v.end(), e.data);
  }
}

}  // namespace normlab
