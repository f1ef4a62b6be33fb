#pragma once
// Weight initializers for dense and conv weights (fan_in = in*kh*kw,
// fan_out = out*kh*kw). Spelled "NAME" or "NAME:PARAM":
//   default            PyTorch's default: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   zeros, constant:v
//   normal:std         N(0, std^2)                         (std default 0.01)
//   uniform:a          U(-a, a)                            (a default 0.05)
//   xavier-normal:g    N(0, g^2 * 2/(fan_in+fan_out))      (Glorot)
//   xavier-uniform:g   U(+-g*sqrt(6/(fan_in+fan_out)))
//   he-normal:g        N(0, g^2 * 2/fan_in)                (Kaiming, ReLU gain)
//   he-uniform:g       U(+-g*sqrt(6/fan_in))
//   lecun-normal:g     N(0, g^2 / fan_in)
//   orthogonal:g       g * Q of a QR of a Gaussian (out, fan_in) matrix
// g is an extra scale (default 1), so "he-normal:0.1" shrinks He by 10x.
// Biases are zero except under `default`. Norm layers start at gamma=1, beta=0.
// The rnn (nn/rnn.h): weight_ih has fans (D, H), weight_hh (H, H); `default` is
// PyTorch's nn.RNN init, U(+-1/sqrt(H)) for every weight and bias.
#include <string>

#include "tensor/rng.h"
#include "nn/sequential.h"

namespace normlab {

struct InitSpec {
  std::string scheme = "default";
  double param = 0;       // scale, std, a or value; 0 means the scheme's default
  bool has_param = false;
};

// Throws ConfigError naming the allowed schemes, or a bad parameter.
InitSpec parse_init(const std::string& s);
std::string to_string(const InitSpec& s);

// Fills one weight tensor of the given fans in place.
void init_weight(float* w, std::size_t n, int fan_in, int fan_out, const InitSpec& spec, Rng& rng);

// Initializes every layer of the model from one seed, in layer order.
void init_model(Sequential<float>& model, const InitSpec& spec, uint64_t seed);

}  // namespace normlab
