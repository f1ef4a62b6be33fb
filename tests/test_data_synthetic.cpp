// Synthetic generators: deterministic per seed, different across seeds,
// labels in range and every class present; plus standardization, the
// validation hold-out and the shared dataset cache.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <thread>

#include "data/dataset.h"
#include "data/synthetic.h"

using namespace normlab;

namespace {
const char* kKinds[] = {"blobs", "teacher", "spirals", "synthetic-images"};

Dataset gen(const std::string& spec) { return make_synthetic(parse_data_spec(spec)); }
}  // namespace

TEST_CASE("generators are deterministic per seed and differ across seeds") {
  for (const char* kind : kKinds) {
    CAPTURE(kind);
    const std::string base = std::string(kind) + ":n=300,test=100,classes=3";
    const Dataset a = gen(base + ",seed=5"), b = gen(base + ",seed=5"), c = gen(base + ",seed=6");
    CHECK(a.train.raw_f32() == b.train.raw_f32());
    CHECK(a.train.labels() == b.train.labels());
    CHECK(a.test.raw_f32() == b.test.raw_f32());
    CHECK(a.checksum == b.checksum);
    CHECK(a.train.raw_f32() != c.train.raw_f32());
    CHECK(a.checksum != c.checksum);
    CHECK(a.train.count() == 300);
    CHECK(a.test.count() == 100);
    CHECK(a.classes == 3);
    std::set<int> seen;
    for (int y : a.train.labels()) {
      CHECK(y >= 0);
      CHECK(y < 3);
      seen.insert(y);
    }
    CHECK(seen.size() == 3);
    for (float v : a.train.raw_f32()) REQUIRE(std::isfinite(v));
  }
}

TEST_CASE("the test size does not change the training set") {
  for (const char* kind : kKinds) {
    CAPTURE(kind);
    const Dataset a = gen(std::string(kind) + ":n=200,test=50"), b = gen(std::string(kind) + ":n=200,test=80");
    CHECK(a.train.raw_f32() == b.train.raw_f32());
    CHECK(a.train.labels() == b.train.labels());
  }
}

TEST_CASE("shapes and parameters are honoured") {
  CHECK(gen("blobs:dim=7,n=50").shape == Shape{7, 1, 1});
  CHECK(gen("spirals:dim=5,n=50").shape == Shape{5, 1, 1});
  const Dataset im = gen("synthetic-images:n=50,classes=4");
  CHECK(im.shape == Shape{1, 28, 28});
  for (float v : im.train.raw_f32()) {
    REQUIRE(v >= 0.0f);
    REQUIRE(v <= 1.0f);
  }
  // More noise spreads blobs further from their class mean.
  auto spread = [](const Dataset& d) {
    const auto& x = d.train.raw_f32();
    const int D = int(d.shape.size());
    std::vector<double> m(3 * D, 0), cnt(3, 0);
    for (int i = 0; i < d.train.count(); ++i) {
      cnt[d.train.labels()[i]] += 1;
      for (int j = 0; j < D; ++j) m[d.train.labels()[i] * D + j] += x[i * D + j];
    }
    double s = 0;
    for (int i = 0; i < d.train.count(); ++i)
      for (int j = 0; j < D; ++j) {
        const int k = d.train.labels()[i];
        const double dv = x[i * D + j] - m[k * D + j] / cnt[k];
        s += dv * dv;
      }
    return std::sqrt(s / (d.train.count() * D));
  };
  const double s1 = spread(gen("blobs:n=2000,classes=3,noise=0.5")), s2 = spread(gen("blobs:n=2000,classes=3,noise=2"));
  CHECK(s1 == doctest::Approx(0.5).epsilon(0.05));
  CHECK(s2 == doctest::Approx(2.0).epsilon(0.05));
}

TEST_CASE("teacher labels are not all one class") {
  const Dataset t = gen("teacher:n=4000,classes=4");
  std::vector<int> cnt(4, 0);
  for (int y : t.train.labels()) ++cnt[y];
  for (int k = 0; k < 4; ++k) {
    CAPTURE(k);
    CHECK(cnt[k] > 4000 / 4 / 4);  // each class at least a quarter of its fair share
  }
}

TEST_CASE("generated data is pinned: the same bytes on every machine") {
  // If this fails after a deliberate generator change, update the value and say so;
  // otherwise results that cite this dataset's checksum are no longer reproducible. (The
  // generators use only +, *, sqrt, log, sin, cos, exp in double; a libm whose log/sin/cos
  // differ in the last bit would show up here.)
  CHECK(gen("blobs:n=64,test=16,dim=5,classes=3,seed=1").checksum == "ea02f43bf61249acbe90fbd40c28ec8fd293950c068a2613ec7c6556b4fc288e");
  CHECK(gen("synthetic-images:n=16,test=4,classes=3,seed=1").checksum == "a43d5baaf107cd63deb43c22e4f81be489cb2adc2e51fa58e6e9dbc78754daa1");
}

TEST_CASE("standardize maps train features to mean 0, std 1, using train statistics only") {
  const auto d = load_dataset("blobs:n=1000,test=300,dim=6,classes=3,seed=2");
  const int N = d->train.count(), D = 6;
  std::vector<float> x(N * D);
  std::vector<int32_t> y(N);
  d->train.gather_range(x.data(), y.data(), 0, N);
  for (int j = 0; j < D; ++j) {
    double m = 0, q = 0;
    for (int i = 0; i < N; ++i) m += x[i * D + j];
    m /= N;
    for (int i = 0; i < N; ++i) q += (x[i * D + j] - m) * (x[i * D + j] - m);
    CHECK(std::fabs(m) < 1e-5);
    CHECK(std::sqrt(q / N) == doctest::Approx(1.0).epsilon(1e-4));
  }
  // The test split uses the train statistics: x_test' = (x_test - mean) / std.
  const auto raw = load_dataset("blobs:n=1000,test=300,dim=6,classes=3,seed=2,standardize=0");
  std::vector<float> xt(D), xr(D);
  int32_t yy;
  d->test.gather_range(xt.data(), &yy, 17, 1);
  raw->test.gather_range(xr.data(), &yy, 17, 1);
  for (int j = 0; j < D; ++j) CHECK(xt[j] == doctest::Approx((xr[j] - d->mean[j]) / d->stdev[j]).epsilon(1e-5));
  CHECK(xr[0] == raw->test.raw_f32()[17 * D]);
}

TEST_CASE("the validation split is held out of train, fixed and disjoint") {
  const auto a = load_dataset("spirals:n=500,val=0.2,standardize=0");
  CHECK(a->train.count() == 400);
  CHECK(a->val.count() == 100);
  const auto full = load_dataset("spirals:n=500,standardize=0");
  // Every train and val sample is one of the original samples, and none is in both.
  auto key = [](const float* p) { return std::make_pair(p[0], p[1]); };
  std::set<std::pair<float, float>> orig, tr;
  for (int i = 0; i < 500; ++i) orig.insert(key(&full->train.raw_f32()[2 * i]));
  for (int i = 0; i < 400; ++i) tr.insert(key(&a->train.raw_f32()[2 * i]));
  for (int i = 0; i < 400; ++i) CHECK(orig.count(key(&a->train.raw_f32()[2 * i])) == 1);
  for (int i = 0; i < 100; ++i) {
    CHECK(orig.count(key(&a->val.raw_f32()[2 * i])) == 1);
    CHECK(tr.count(key(&a->val.raw_f32()[2 * i])) == 0);
  }
  CHECK(full->val.count() == 0);
}

TEST_CASE("label_noise replaces exactly round(F N) training-pool labels by other classes, test untouched") {
  // blobs with 4 classes, 1000 train samples: F = 0.3 -> 300 labels differ from the clean set's.
  const auto clean = load_dataset("blobs:n=1000,classes=4,standardize=0");
  const auto noisy = load_dataset("blobs:n=1000,classes=4,label_noise=0.3,standardize=0");
  REQUIRE(noisy->train.count() == 1000);
  int changed = 0;
  std::vector<int> per_class(4, 0);
  for (int i = 0; i < 1000; ++i) {
    const int a = clean->train.labels()[i], b = noisy->train.labels()[i];
    CHECK(b >= 0);
    CHECK(b < 4);
    if (a != b) ++changed, ++per_class[b];
  }
  CHECK(changed == 300);
  for (int c = 0; c < 4; ++c) CHECK(per_class[c] > 30);  // uniform over the other classes: about 75 each
  CHECK(noisy->test.labels() == clean->test.labels());
  CHECK(std::equal(noisy->train.raw_f32().begin(), noisy->train.raw_f32().end(), clean->train.raw_f32().begin()));
  // fixed: another load gives the same labels; a hold-out splits the noisy pool
  clear_dataset_cache();
  CHECK(load_dataset("blobs:n=1000,classes=4,label_noise=0.3,standardize=0")->train.labels() == noisy->train.labels());
  const auto held = load_dataset("blobs:n=1000,classes=4,label_noise=0.3,val=0.2,standardize=0");
  const auto held_clean = load_dataset("blobs:n=1000,classes=4,val=0.2,standardize=0");
  int differ = 0;
  for (int i = 0; i < held->train.count(); ++i) differ += held->train.labels()[i] != held_clean->train.labels()[i];
  for (int i = 0; i < held->val.count(); ++i) differ += held->val.labels()[i] != held_clean->val.labels()[i];
  CHECK(differ == 300);
}

TEST_CASE("equal specs share one loaded dataset, also across threads") {
  clear_dataset_cache();
  std::vector<std::shared_ptr<const Dataset>> got(4);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) ts.emplace_back([&, i] { got[i] = load_dataset("teacher:n=3000,seed=9"); });
  for (auto& t : ts) t.join();
  for (int i = 1; i < 4; ++i) CHECK(got[i].get() == got[0].get());
  // Spelling the same spec differently still hits the cache; another spec does not.
  CHECK(load_dataset("teacher:seed=9,n=3000").get() == got[0].get());
  CHECK(load_dataset("teacher:n=3000,seed=10").get() != got[0].get());
}
