// Dataset spec strings: parsing, canonical form, and errors that name the key.
#include <doctest/doctest.h>

#include "data/spec.h"
#include "core/errors.h"

using namespace normlab;

namespace {
std::string err(const std::string& s) {
  try {
    parse_data_spec(s);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("spec strings parse into fields") {
  const DataSpec s = parse_data_spec("blobs:n=2000,dim=20,classes=4,noise=1.5,seed=3,val=0.1,standardize=0");
  CHECK(s.name == "blobs");
  CHECK(*s.n == 2000);
  CHECK(*s.dim == 20);
  CHECK(*s.classes == 4);
  CHECK(*s.noise == 1.5);
  CHECK(*s.seed == 3);
  CHECK(s.val_fraction == 0.1);
  CHECK_FALSE(s.standardize);
  CHECK(s.synthetic());

  const DataSpec m = parse_data_spec("mnist");
  CHECK(m.name == "mnist");
  CHECK_FALSE(m.n.has_value());
  CHECK(m.standardize);
  CHECK_FALSE(m.synthetic());

  const DataSpec i = parse_data_spec("idx:/data/kmnist,classes=10,val=0.2");
  CHECK(i.name == "idx");
  CHECK(i.path == "/data/kmnist");
  CHECK(i.val_fraction == 0.2);
}

TEST_CASE("canonical form is order-independent and round-trips") {
  const DataSpec a = parse_data_spec("blobs:seed=3,n=100"), b = parse_data_spec("blobs:n=100,seed=3");
  CHECK(a.canonical() == b.canonical());
  CHECK(parse_data_spec(a.canonical()).canonical() == a.canonical());
  CHECK(parse_data_spec("blobs:n=100,seed=4").canonical() != a.canonical());
  const DataSpec i = parse_data_spec("idx:/x/y,val=0.25");
  CHECK(parse_data_spec(i.canonical()).canonical() == i.canonical());
  CHECK(parse_data_spec(i.canonical()).path == "/x/y");
}

TEST_CASE("canonical numbers are shortest round-trip, never 17-digit expansions") {
  CHECK(parse_data_spec("mnist:val=0.1").canonical() == "mnist:val=0.1");
  CHECK(parse_data_spec("blobs:noise=0.3,n=100").canonical() == "blobs:n=100,noise=0.3");
  CHECK(parse_data_spec("synthetic-images:noise=1e-7").canonical() == "synthetic-images:noise=1e-07");
  const DataSpec v = parse_data_spec("fashion-mnist:val=0.123456789012345");
  CHECK(parse_data_spec(v.canonical()).val_fraction == v.val_fraction);  // round-trips exactly
}

TEST_CASE("bad specs are ConfigErrors naming what is wrong") {
  CHECK(err("cifar").find("unknown dataset 'cifar'") != std::string::npos);
  CHECK(err("blobs:n=abc").find("'n'") != std::string::npos);
  CHECK(err("blobs:size=3").find("unknown key 'size'") != std::string::npos);
  CHECK(err("mnist:noise=0.1").find("'noise'") != std::string::npos);
  CHECK(err("mnist:val=0.9").find("[0, 0.5]") != std::string::npos);
  CHECK(err("idx:").find("idx:DIR") != std::string::npos);
  CHECK(err("blobs:n").find("KEY=VALUE") != std::string::npos);
  CHECK(err("synthetic-images:dim=10").find("28x28") != std::string::npos);
  CHECK(err("blobs:standardize=maybe").find("'standardize'") != std::string::npos);
  CHECK(err("blobs:n=10").empty());
  for (const char* bad : {"mnist:label_noise=1", "mnist:label_noise=-0.1", "mnist:label_noise=nan", "mnist:label_noise=x"}) {
    CAPTURE(bad);
    CHECK(err(bad).find("'label_noise'") != std::string::npos);
  }
  CHECK(err("mnist:label_noise=1").find("[0, 1)") != std::string::npos);
  CHECK(err("mnist:label-noise=0.1").find("allowed: n, test, dim, classes, noise, seed, val, standardize, label_noise") !=
        std::string::npos);
}

TEST_CASE("a spec's numbers parse as every other number a user types: a leading +, ranges named") {
  // The same text as a key's value means the same number (--batch-size +8 is 8).
  CHECK(parse_data_spec("mnist:n=+100").canonical() == "mnist:n=100");
  CHECK(parse_data_spec("mnist:val=+0.1").canonical() == "mnist:val=0.1");
  const struct {
    const char* spec;
    const char* message;
  } cases[] = {
      {"mnist:n=0", "key 'n': '0' is out of range (allowed: 1 to 2147483647)"},
      {"mnist:n=99999999999", "key 'n': '99999999999' is out of range (allowed: 1 to 2147483647)"},
      {"mnist:n=1x", "key 'n': '1x' is not an integer"},
      {"mnist:n= 5", "key 'n': ' 5' is not an integer"},
      {"blobs:dim=100001", "key 'dim': '100001' is out of range (allowed: 1 to 100000)"},
      {"blobs:classes=1", "key 'classes': '1' is out of range (allowed: 2 to 256)"},
      {"blobs:seed=-1", "key 'seed': '-1' is out of range (allowed: 0 to "},
      {"blobs:noise=inf", "key 'noise': 'inf' is not a finite number (allowed: a finite value >= 0)"},
      {"blobs:noise=-1", "key 'noise': expected a finite value >= 0"},
      {"mnist:val=nan", "key 'val': 'nan' is not a finite number (allowed: a fraction in [0, 0.5])"},
      {"mnist:val=1e999", "key 'val': '1e999' is out of range"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.spec);
    CHECK(err(c.spec).find(c.message) != std::string::npos);
  }
}

TEST_CASE("label_noise round-trips in the canonical form, and 0 is the clean dataset") {
  CHECK(parse_data_spec("fashion-mnist:n=2000,label_noise=0.4,val=0.2").canonical() ==
        "fashion-mnist:n=2000,val=0.2,label_noise=0.4");
  CHECK(parse_data_spec("mnist:label_noise=0").canonical() == "mnist");
  CHECK(parse_data_spec("mnist:label_noise=0.25").label_noise == 0.25);
}
