#pragma once
// Generated classification problems. Each is a pure function of its
// parameters: the same (kind, n, test, dim, classes, noise, seed) gives
// bit-identical data on every machine (own RNG, see rng.h). The problem's
// structure (centers, teacher weights, prototypes) comes from the seed alone;
// train and test samples come from two further streams, so changing `test`
// does not change the training set.
//
//   blobs             x = mu_y + noise * N(0, I);  class centers mu_k ~ N(0, (9/dim) I),
//                     so centers sit about 4.2 apart whatever dim is.
//                     defaults n=2000 test=1000 dim=20 classes=4 noise=1.0
//   teacher           x ~ N(0, I); y = argmax_k(W2 tanh(W1 x + b1) + b2 + noise * N(0, I))_k
//                     with a fixed random 64-unit tanh teacher, W1 ~ N(0, 4/dim)
//                     (pre-activations of std 2, so tanh bends the boundaries:
//                     learnable by an MLP, not linearly separable); b2 centers
//                     each class's mean logit so classes are roughly balanced.
//                     defaults n=4000 test=2000 dim=20 classes=4 noise=0
//   spirals           `classes` interleaved arms in the first two coordinates:
//                     t ~ U(0,1), r = t, angle = 2*pi*y/classes + 3*pi*t,
//                     x = r (cos, sin) + noise * N(0, I); coordinates beyond the
//                     second are pure noise * N(0,1).
//                     defaults n=3000 test=1500 dim=2 classes=3 noise=0.05
//   synthetic-images  1x28x28 in [0,1]. A pool of 16 oriented strokes (anisotropic
//                     Gaussians, length sigma 2.5..4.5 px, width 0.8..1.3 px, centers
//                     in [8,20]^2) is shared by all classes; class k is a fixed set of
//                     4 of them. A sample overlays (pixelwise max) its class's
//                     strokes with amplitudes U(0.6, 1), shifts the image by up to
//                     ±3 px in x and y, adds noise * N(0,1) and clips to [0,1].
//                     At the defaults softmax regression (300 full-batch steps)
//                     reaches about 0.88 test accuracy and cnn-small with BN about
//                     0.80 after 3 epochs: learnable, not saturated.
//                     defaults n=6000 test=2000 classes=10 noise=0.2
// Labels are uniform over classes except for teacher (set by the teacher).
#include "data/dataset.h"
#include "data/spec.h"

namespace normlab {

// Fills spec's unset synthetic keys with the kind's defaults (see above), so
// canonical() names the data exactly. REQUIRES: spec.synthetic().
DataSpec with_synthetic_defaults(const DataSpec& spec);

// Generates train and test splits, shape, classes, source and checksum (sha256
// over the generated float32 inputs and int32 labels, train then test).
// Inputs are not standardized here. REQUIRES: spec.synthetic().
Dataset make_synthetic(const DataSpec& spec);

}  // namespace normlab
