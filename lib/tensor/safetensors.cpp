// safetensors layout:
//   u64 (little-endian) N | N bytes of JSON header | raw tensor data
// header: {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//          "__metadata__": {"key": "value"}}; offsets are relative to the data
// block. The header is padded with spaces to a multiple of 8 bytes.
#include "core/read_file.h"
#include "core/temp_name.h"
#include "tensor/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace normlab {

namespace {
std::size_t dtype_size(const std::string& d) {
  if (d == "F32" || d == "I32") return 4;
  if (d == "F64" || d == "I64") return 8;
  return 0;
}

// A list of JSON integers >= 0 (shape, data_offsets). Anything else, floats
// included, is refused here: converting 1e300 to an integer is undefined.
std::vector<uint64_t> counts(const nlohmann::json& v, const char* key) {
  const auto& a = v.at(key);
  std::vector<uint64_t> out;
  if (a.is_array())
    for (const auto& e : a) {
      if (!e.is_number_unsigned() || e.get<uint64_t>() > uint64_t(INT64_MAX)) break;
      out.push_back(e.get<uint64_t>());
    }
  if (!a.is_array() || out.size() != a.size())
    throw std::runtime_error(std::string(key) + ": expected a list of integers >= 0");
  return out;
}

// Bytes the shape needs, or throws when the count does not fit in 64 bits.
uint64_t shape_bytes(const std::vector<uint64_t>& shape, std::size_t elem) {
  uint64_t n = elem;
  bool overflow = false, zero = false;
  for (uint64_t d : shape) {
    zero = zero || d == 0;
    overflow = __builtin_mul_overflow(n, d, &n) || overflow;
  }
  if (zero) return 0;
  if (overflow) throw std::runtime_error("shape: more elements than fit in memory");
  return n;
}

template <class Out>
std::vector<Out> convert(const SafeTensor& t) {
  const std::size_t n = t.numel();
  std::vector<Out> out(n);
  const uint8_t* b = t.bytes.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (t.dtype == "F32") {
      float v;
      std::memcpy(&v, b + 4 * i, 4);
      out[i] = Out(v);
    } else if (t.dtype == "F64") {
      double v;
      std::memcpy(&v, b + 8 * i, 8);
      out[i] = Out(v);
    } else if (t.dtype == "I64") {
      int64_t v;
      std::memcpy(&v, b + 8 * i, 8);
      out[i] = Out(v);
    } else {
      int32_t v;
      std::memcpy(&v, b + 4 * i, 4);
      out[i] = Out(v);
    }
  }
  return out;
}
}  // namespace

std::size_t SafeTensor::numel() const {
  std::size_t n = 1;
  for (auto d : shape) n *= std::size_t(d);
  return n;
}
std::vector<float> SafeTensor::to_float() const { return convert<float>(*this); }
std::vector<double> SafeTensor::to_double() const { return convert<double>(*this); }

const SafeTensor& SafeTensorFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::out_of_range("safetensors: no tensor '" + name + "'");
  return it->second;
}

SafeTensorFile read_safetensors(const std::string& path) {
  const std::string text = read_file_capped(path);  // a size cap: /dev/zero is refused, not read forever
  const std::vector<uint8_t> all(text.begin(), text.end());
  if (all.size() < 8) throw ConfigError(fmt::format("{}: truncated (no header length)", path));
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | all[i];
  if (hlen > all.size() - 8)
    throw ConfigError(fmt::format("{}: header length {} exceeds file size {}", path, hlen, all.size()));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(all.begin() + 8, all.begin() + 8 + long(hlen));
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("{}: header is not valid JSON ({})", path, e.what()));
  }
  const std::size_t data0 = 8 + hlen, dlen = all.size() - data0;
  SafeTensorFile file;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object() || !std::all_of(v.begin(), v.end(), [](const auto& mv) { return mv.is_string(); }))
        throw ConfigError(fmt::format("{}: __metadata__: expected an object of strings", path));
      for (auto& [k, mv] : v.items()) file.metadata[k] = mv.template get<std::string>();
      continue;
    }
    SafeTensor t;
    try {
      t.dtype = v.at("dtype").get<std::string>();
      const auto shape = counts(v, "shape");
      t.shape.assign(shape.begin(), shape.end());
      const auto off = counts(v, "data_offsets");
      if (!dtype_size(t.dtype))
        throw std::runtime_error("dtype " + t.dtype + " (allowed: F32, F64, I64, I32)");
      if (off.size() != 2 || off[0] > off[1] || off[1] > dlen ||
          off[1] - off[0] != shape_bytes(shape, dtype_size(t.dtype)))
        throw std::runtime_error("data_offsets do not match the shape and the file length");
      t.bytes.assign(all.begin() + long(data0 + off[0]), all.begin() + long(data0 + off[1]));
    } catch (const std::exception& e) {
      throw ConfigError(fmt::format("{}: tensor '{}': {}", path, name, e.what()));
    }
    file.tensors.emplace(name, std::move(t));
  }
  return file;
}

void write_safetensors(const std::string& path, const SafeTensorFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t off = 0;
  for (const auto& [name, t] : file.tensors) {
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');
  const std::string tmp = temp_path_for(path);
  // On failure: the OS's reason (errno, as the stream leaves it), and no temporary file left.
  auto fail = [&] {
    const int err = errno;
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(err)));
  };
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail();
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out.put(char((n >> (8 * i)) & 0xff));
    out.write(h.data(), long(h.size()));
    for (const auto& [name, t] : file.tensors)
      out.write(reinterpret_cast<const char*>(t.bytes.data()), long(t.bytes.size()));
    out.flush();
    if (!out) fail();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    errno = ec.value();
    fail();
  }
}

SafeTensor make_f32(const float* data, std::vector<int64_t> shape) {
  SafeTensor t{"F32", std::move(shape), {}};
  t.bytes.resize(t.numel() * 4);
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

SafeTensor make_i64(const int64_t* data, std::vector<int64_t> shape) {
  SafeTensor t{"I64", std::move(shape), {}};
  t.bytes.resize(t.numel() * 8);
  std::memcpy(t.bytes.data(), data, t.bytes.size());
  return t;
}

}  // namespace normlab
