#pragma once
// Model weights as safetensors, named and shaped exactly as the equivalent
// PyTorch nn.Sequential's state_dict ("0.weight" (out,in), "1.running_mean",
// "1.num_batches_tracked" as int64), so torch.load_state_dict takes them as is.
#include <map>
#include <string>

#include "nn/sequential.h"

namespace normlab {

void save_checkpoint(const std::string& path, Sequential<float>& model,
                     const std::map<std::string, std::string>& metadata = {});

// Strict: every tensor of the model must be present with its shape, and no
// other tensor may be. Throws ConfigError naming the file and the tensor.
void load_checkpoint(const std::string& path, Sequential<float>& model);

}  // namespace normlab
