#pragma once
// Dataset spec strings: what `--dataset` (and `dataset = "..."` in an
// experiment file) accepts.
//
//   NAME[:KEY=VALUE[,KEY=VALUE...]]
//   idx:DIR[,KEY=VALUE...]          DIR may not contain a comma
//
// NAME is one of
//   mnist            full MNIST if fetched and verified, else the 10k subset
//                    fallback (see fetch.h); Dataset::subset tells which
//   fashion-mnist    Fashion-MNIST (Debian dataset-fashion-mnist, or $NORMLAB_DATA/fashion-mnist)
//   idx:DIR          any directory with the four MNIST file names (.gz or raw)
//   blobs, teacher, spirals, synthetic-images   generated, see synthetic.h
//
// Keys (all optional):
//   n=INT          train samples (synthetic: generated; file datasets: the
//                  first n training samples in file order)
//   test=INT       test samples (synthetic only)
//   dim=INT        input dimension (blobs, teacher, spirals)
//   classes=INT    classes (synthetic); for idx:DIR the label bound (default 10)
//   noise=FLOAT    noise level (meaning per generator, see synthetic.h)
//   seed=INT       generator seed (synthetic only; the run seed does not change data)
//   val=FLOAT      fraction of train held out as a validation split, in [0, 0.5]
//   standardize=0|1  standardize inputs by the train split's per-channel mean/std
//                  (default 1); images are first scaled to [0,1]
// Examples: "mnist", "mnist:n=1000,val=0.1", "blobs:n=2000,dim=20,classes=4,noise=1.0",
//           "idx:/data/kmnist", "synthetic-images:classes=10,noise=0.3,seed=7".
#include <cstdint>
#include <optional>
#include <string>

namespace normlab {

struct DataSpec {
  std::string name;             // "mnist", "fashion-mnist", "idx", "blobs", ...
  std::string path;             // DIR for idx, else empty
  std::optional<int> n, test, dim, classes;
  std::optional<double> noise;
  std::optional<uint64_t> seed;
  double val_fraction = 0.0;
  double label_noise = 0.0;     // fraction of the training pool's labels replaced by another class
  bool standardize = true;
  std::string data_dir;         // empty: data_dir() at load time

  bool synthetic() const;
  // Canonical text: the name plus every key that was set, in a fixed order.
  // Equal specs give equal strings; it is the dataset cache key.
  std::string canonical() const;
};

// Parses a spec string. Throws ConfigError naming the spec, the bad key or
// value and the allowed ones (unknown dataset, unknown key, key not valid for
// this dataset, bad number, val outside [0, 0.5]).
DataSpec parse_data_spec(const std::string& text);

}  // namespace normlab
