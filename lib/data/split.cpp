// Split: stored samples -> float batches.
//   uint8 storage:  x = v * (scale[c]/255) + shift[c]
//   float storage:  x = v * scale[c] + shift[c]
// Standardizing with train mean m_c and std s_c sets scale = 1/s_c,
// shift = -m_c/s_c. Channel statistics are accumulated in double per channel
// (sum and sum of squares of bytes are exact integers for uint8 data).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/errors.h"
#include "data/dataset.h"

namespace normlab {

Split Split::from_u8(Shape shape, std::vector<uint8_t> pixels, std::vector<int32_t> labels) {
  if (pixels.size() != labels.size() * shape.size())
    throw DataError("Split: " + std::to_string(pixels.size()) + " bytes do not hold " +
                    std::to_string(labels.size()) + " samples of shape " + shape.str());
  Split s;
  s.shape_ = shape;
  s.is_u8_ = true;
  s.u8_ = std::move(pixels);
  s.labels_ = std::move(labels);
  s.set_affine(std::vector<double>(shape.c, 1.0), std::vector<double>(shape.c, 0.0));
  return s;
}

Split Split::from_f32(Shape shape, std::vector<float> values, std::vector<int32_t> labels) {
  if (values.size() != labels.size() * shape.size())
    throw DataError("Split: " + std::to_string(values.size()) + " values do not hold " +
                    std::to_string(labels.size()) + " samples of shape " + shape.str());
  Split s;
  s.shape_ = shape;
  s.f32_ = std::move(values);
  s.labels_ = std::move(labels);
  s.set_affine(std::vector<double>(shape.c, 1.0), std::vector<double>(shape.c, 0.0));
  return s;
}

void Split::set_affine(const std::vector<double>& scale, const std::vector<double>& shift) {
  const int C = shape_.c;
  scale_.assign(C, 1.0f);
  shift_.assign(C, 0.0f);
  for (int c = 0; c < C; ++c) {
    scale_[c] = float(scale[c]);
    shift_[c] = float(shift[c]);
  }
  u8_scale_.assign(C, 0.0f);
  for (int c = 0; c < C; ++c) u8_scale_[c] = float(scale[c] / 255.0);
}

void Split::gather(float* x, int32_t* y, const uint32_t* idx, int n) const {
  const std::size_t D = shape_.size();
  const int C = shape_.c, HW = shape_.spatial();
  for (int i = 0; i < n; ++i) {
    const std::size_t s = idx[i];
    y[i] = labels_[s];
    float* xo = x + i * D;
    if (is_u8_) {
      const uint8_t* src = u8_.data() + s * D;
      for (int c = 0; c < C; ++c) {
        // x = v * (scale/255) + shift: converts and fuses in SIMD, where a
        // 256-entry table lookup per byte would not vectorize (measured 2x slower).
        const float a = u8_scale_[c], b = shift_[c];
        const uint8_t* sc = src + c * HW;
        float* xc = xo + c * HW;
        for (int p = 0; p < HW; ++p) xc[p] = float(sc[p]) * a + b;
      }
    } else {
      const float* src = f32_.data() + s * D;
      for (int c = 0; c < C; ++c) {
        const float a = scale_[c], b = shift_[c];
        for (int p = 0; p < HW; ++p) xo[c * HW + p] = src[c * HW + p] * a + b;
      }
    }
  }
}

void Split::gather_range(float* x, int32_t* y, int begin, int n) const {
  uint32_t buf[256];
  for (int done = 0; done < n;) {
    const int m = std::min(256, n - done);
    for (int i = 0; i < m; ++i) buf[i] = uint32_t(begin + done + i);
    gather(x + std::size_t(done) * shape_.size(), y + done, buf, m);
    done += m;
  }
}

void Split::channel_stats(std::vector<double>& mean, std::vector<double>& stdev) const {
  const int C = shape_.c, HW = shape_.spatial();
  const std::size_t D = shape_.size(), N = labels_.size();
  mean.assign(C, 0.0);
  stdev.assign(C, 0.0);
  if (N == 0) return;
  const double cnt = double(N) * HW;
  if (is_u8_) {
    // Exact integer sums; 2^63 / 255^2 samples is far beyond any dataset here.
    for (int c = 0; c < C; ++c) {
      uint64_t s1 = 0, s2 = 0;
      for (std::size_t i = 0; i < N; ++i) {
        const uint8_t* p = u8_.data() + i * D + c * HW;
        uint32_t a1 = 0, a2 = 0;
        for (int k = 0; k < HW; ++k) a1 += p[k], a2 += uint32_t(p[k]) * p[k];
        s1 += a1, s2 += a2;
      }
      const double m = double(s1) / cnt;
      const double var = std::max(0.0, double(s2) / cnt - m * m);
      mean[c] = m / 255.0;
      stdev[c] = std::sqrt(var) / 255.0;
    }
  } else {
    // Two passes in double: mean, then squared deviations.
    for (int c = 0; c < C; ++c) {
      double s = 0;
      for (std::size_t i = 0; i < N; ++i)
        for (int k = 0; k < HW; ++k) s += f32_[i * D + c * HW + k];
      const double m = s / cnt;
      double q = 0;
      for (std::size_t i = 0; i < N; ++i)
        for (int k = 0; k < HW; ++k) {
          const double d = f32_[i * D + c * HW + k] - m;
          q += d * d;
        }
      mean[c] = m;
      stdev[c] = std::sqrt(q / cnt);
    }
  }
}

void Split::set_labels(std::vector<int32_t> labels) {
  if (labels.size() != labels_.size()) throw std::logic_error("Split::set_labels: count differs");
  labels_ = std::move(labels);
}

Split Split::subset(const std::vector<uint32_t>& idx) const {
  const std::size_t D = shape_.size();
  Split s;
  s.shape_ = shape_;
  s.is_u8_ = is_u8_;
  s.labels_.resize(idx.size());
  if (is_u8_) s.u8_.resize(idx.size() * D);
  else s.f32_.resize(idx.size() * D);
  for (std::size_t i = 0; i < idx.size(); ++i) {
    s.labels_[i] = labels_[idx[i]];
    if (is_u8_) std::memcpy(s.u8_.data() + i * D, u8_.data() + idx[i] * D, D);
    else std::memcpy(s.f32_.data() + i * D, f32_.data() + idx[i] * D, D * sizeof(float));
  }
  s.u8_scale_ = u8_scale_;
  s.scale_ = scale_;
  s.shift_ = shift_;
  return s;
}

}  // namespace normlab
