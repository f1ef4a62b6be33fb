// Parsing of dataset spec strings; the grammar is in spec.h.
#include "data/spec.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "core/errors.h"
#include "core/parse_number.h"

namespace normlab {
namespace {

const std::set<std::string> kSynthetic{"blobs", "teacher", "spirals", "synthetic-images"};
const std::set<std::string> kFile{"mnist", "fashion-mnist", "idx"};
const char* kNames = "mnist, fashion-mnist, idx:DIR, blobs, teacher, spirals, synthetic-images";

[[noreturn]] void bad(const std::string& spec, const std::string& what) {
  throw ConfigError("dataset '" + spec + "': " + what);
}

// A key's number, by the parsers every number a user types goes through (a leading
// '+' allowed, the whole text the number): an integer in [lo, hi], a finite double.
long long parse_int(const std::string& spec, const std::string& key, const std::string& v, long long lo,
                    long long hi) {
  return parse_integer(v, lo, hi, "dataset '" + spec + "': key '" + key + "'");
}
double parse_double(const std::string& spec, const std::string& key, const std::string& v,
                    const std::string& allowed) {
  return parse_finite(v, "dataset '" + spec + "': key '" + key + "'", allowed);
}
constexpr long long kIntMax = std::numeric_limits<int>::max();

}  // namespace

bool DataSpec::synthetic() const { return kSynthetic.count(name) > 0; }

// Numbers print in their shortest round-trip form ("val=0.1"): fmt's "{}".
std::string DataSpec::canonical() const {
  std::string o = name;
  char sep = ':';
  if (name == "idx") {
    o += ':' + path;
    sep = ',';
  }
  auto put = [&](const char* k, const auto& v) {
    o += fmt::format("{}{}={}", sep, k, v);
    sep = ',';
  };
  if (n) put("n", *n);
  if (test) put("test", *test);
  if (dim) put("dim", *dim);
  if (classes) put("classes", *classes);
  if (noise) put("noise", *noise);
  if (seed) put("seed", *seed);
  if (val_fraction > 0) put("val", val_fraction);
  if (!standardize) put("standardize", 0);
  if (label_noise > 0) put("label_noise", label_noise);
  if (!data_dir.empty()) put("data_dir", data_dir);
  return o;
}

DataSpec parse_data_spec(const std::string& text) {
  DataSpec s;
  std::string rest;
  const auto colon = text.find(':');
  s.name = text.substr(0, colon);
  if (colon != std::string::npos) rest = text.substr(colon + 1);
  if (s.name.empty()) bad(text, std::string("empty dataset name; expected one of ") + kNames);
  if (!kSynthetic.count(s.name) && !kFile.count(s.name))
    bad(text, "unknown dataset '" + s.name + "'; expected one of " + kNames);

  std::vector<std::string> parts;
  for (std::size_t b = 0; b <= rest.size();) {
    const auto e = rest.find(',', b);
    parts.push_back(rest.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  if (rest.empty()) parts.clear();
  std::size_t first = 0;
  if (s.name == "idx") {
    if (parts.empty() || parts[0].empty()) bad(text, "expected idx:DIR (a directory with the four MNIST-format files)");
    s.path = parts[0];
    first = 1;
  }
  const bool synth = s.synthetic();
  for (std::size_t i = first; i < parts.size(); ++i) {
    const std::string& kv = parts[i];
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) bad(text, "expected KEY=VALUE, found '" + kv + "'");
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    auto only_synth = [&] {
      if (!synth) bad(text, "key '" + k + "' applies only to generated datasets (blobs, teacher, spirals, synthetic-images)");
    };
    if (k == "n") {
      s.n = int(parse_int(text, k, v, 1, kIntMax));
    } else if (k == "test") {
      only_synth();
      s.test = int(parse_int(text, k, v, 1, kIntMax));
    } else if (k == "dim") {
      only_synth();
      if (s.name == "synthetic-images") bad(text, "key 'dim': synthetic-images are always 1x28x28");
      s.dim = int(parse_int(text, k, v, 1, 100000));
      if (s.name == "spirals" && *s.dim < 2) bad(text, "key 'dim': spirals need dim >= 2, found " + v);
    } else if (k == "classes") {
      if (!synth && s.name != "idx") bad(text, "key 'classes' applies to generated datasets and idx:DIR only");
      s.classes = int(parse_int(text, k, v, 2, 256));
    } else if (k == "noise") {
      only_synth();
      s.noise = parse_double(text, k, v, "a finite value >= 0");
      if (!(*s.noise >= 0) || !std::isfinite(*s.noise)) bad(text, "key 'noise': expected a finite value >= 0, found " + v);
    } else if (k == "seed") {
      only_synth();
      s.seed = uint64_t(parse_int(text, k, v, 0, std::numeric_limits<long long>::max()));
    } else if (k == "val") {
      s.val_fraction = parse_double(text, k, v, "a fraction in [0, 0.5]");
      if (!(s.val_fraction >= 0 && s.val_fraction <= 0.5)) bad(text, "key 'val': expected a fraction in [0, 0.5], found " + v);
    } else if (k == "label_noise") {
      s.label_noise = parse_double(text, k, v, "a fraction in [0, 1)");
      if (!(s.label_noise >= 0 && s.label_noise < 1))
        bad(text, "key 'label_noise': expected a fraction in [0, 1), found " + v);
    } else if (k == "standardize") {
      if (v == "1" || v == "true") s.standardize = true;
      else if (v == "0" || v == "false") s.standardize = false;
      else bad(text, "key 'standardize': expected 0, 1, true or false, found '" + v + "'");
    } else if (k == "data_dir") {
      s.data_dir = v;
    } else {
      bad(text, "unknown key '" + k + "'; allowed: n, test, dim, classes, noise, seed, val, standardize, label_noise");
    }
  }
  return s;
}

}  // namespace normlab
