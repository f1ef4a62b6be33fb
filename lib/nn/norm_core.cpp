// Normalization core (see norm_core.h for the index sets).
//
// Forward, per statistic group of M values:
//   mu = 1/M sum x,  var = 1/M sum (x-mu)^2,  rstd = (var+eps)^-1/2
//   y  = gamma*(x-mu)*rstd + beta  =  x*alpha + (beta - mu*alpha),  alpha = gamma*rstd
// Backward, with a1 = sum dxhat and a2 = sum dxhat*xhat over the group:
//   dx = rstd*(dxhat - a1/M - xhat*a2/M)
//      = dy*(gamma*rstd) + x*(-rstd^2*a2/M) + rstd*(mu*rstd*a2 - a1)/M
// Per (n,c) block only the two sums sum(dy) and sum(dy*x) are needed when the
// affine is per channel, so a group costs one reduction pass and one write pass.
#include "nn/norm_core.h"

#include <cmath>

namespace normlab {

template <class T>
void norm_stats(T* mean, T* rstd, T* var, const T* x, const NormDims& d, double eps) {
  const int S = d.S, B = d.blocks_per_stat();
  const double M = double(d.group_size());
  for (int i = 0; i < d.stat_count(); ++i) {
    double sum = 0;
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const T* xb = x + (long(n) * d.C + c) * S;
      for (int s = 0; s < S; ++s) sum += xb[s];
    }
    const double mu = sum / M;
    double ss = 0;
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const T* xb = x + (long(n) * d.C + c) * S;
      for (int s = 0; s < S; ++s) {
        const double t = double(xb[s]) - mu;
        ss += t * t;
      }
    }
    const double v = ss / M;
    mean[i] = T(mu);
    rstd[i] = T(1.0 / std::sqrt(v + eps));
    if (var) var[i] = T(v);
  }
}

template <class T>
void norm_apply(T* y, const T* x, const T* mean, const T* rstd, const T* gamma, const T* beta,
                const NormDims& d) {
  const int S = d.S, B = d.blocks_per_stat();
  for (int i = 0; i < d.stat_count(); ++i) {
    const T mu = mean[i], r = rstd[i];
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const long off = (long(n) * d.C + c) * S;
      const T* xb = x + off;
      T* yb = y + off;
      if (d.elementwise_affine && gamma) {
        const T* g = gamma + long(c) * S;
        const T* be = beta + long(c) * S;
        for (int s = 0; s < S; ++s) yb[s] = (xb[s] - mu) * r * g[s] + be[s];
      } else {
        const T alpha = gamma ? gamma[c] * r : r;
        const T shift = (beta ? beta[c] : T(0)) - mu * alpha;
        for (int s = 0; s < S; ++s) yb[s] = xb[s] * alpha + shift;
      }
    }
  }
}

template <class T>
void norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean,
                   const T* rstd, const T* gamma, const NormDims& d) {
  const int S = d.S, B = d.blocks_per_stat();
  const double M = double(d.group_size());
  for (int i = 0; i < d.stat_count(); ++i) {
    const double mu = mean[i], r = rstd[i];
    double a1 = 0, a2 = 0;  // sum dxhat, sum dxhat*xhat over the group
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const long off = (long(n) * d.C + c) * S;
      const T* xb = x + off;
      const T* dyb = dy + off;
      if (d.elementwise_affine && gamma) {
        const T* g = gamma + long(c) * S;
        for (int s = 0; s < S; ++s) {
          const double xh = (double(xb[s]) - mu) * r;
          dgamma[long(c) * S + s] += T(dyb[s] * xh);
          dbeta[long(c) * S + s] += dyb[s];
          const double dxh = double(dyb[s]) * g[s];
          a1 += dxh;
          a2 += dxh * xh;
        }
      } else {
        double sdy = 0, sdyx = 0;
        for (int s = 0; s < S; ++s) {
          sdy += dyb[s];
          sdyx += double(dyb[s]) * xb[s];
        }
        const double sdyxh = r * (sdyx - mu * sdy);  // sum dy*xhat over the block
        const double g = gamma ? double(gamma[c]) : 1.0;
        if (gamma) {
          dgamma[c] += T(sdyxh);
          dbeta[c] += T(sdy);
        }
        a1 += g * sdy;
        a2 += g * sdyxh;
      }
    }
    const T kx = T(-r * r * a2 / M);
    const T k0 = T(r * (mu * r * a2 - a1) / M);
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const long off = (long(n) * d.C + c) * S;
      const T* xb = x + off;
      const T* dyb = dy + off;
      T* dxb = dx + off;
      if (d.elementwise_affine && gamma) {
        const T* g = gamma + long(c) * S;
        const T rr = T(r);
        for (int s = 0; s < S; ++s) dxb[s] += dyb[s] * (g[s] * rr) + xb[s] * kx + k0;
      } else {
        const T a = T(gamma ? gamma[c] * r : r);
        for (int s = 0; s < S; ++s) dxb[s] += dyb[s] * a + xb[s] * kx + k0;
      }
    }
  }
}

template <class T>
void norm_backward_fixed_stats(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean,
                               const T* rstd, const T* gamma, const NormDims& d) {
  const int S = d.S, B = d.blocks_per_stat();
  for (int i = 0; i < d.stat_count(); ++i) {
    const T mu = mean[i], r = rstd[i];
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const long off = (long(n) * d.C + c) * S;
      for (int s = 0; s < S; ++s) {
        const long a = d.elementwise_affine ? long(c) * S + s : c;
        const T g = gamma ? gamma[a] : T(1);
        if (gamma) {
          dgamma[a] += dy[off + s] * (x[off + s] - mu) * r;
          dbeta[a] += dy[off + s];
        }
        dx[off + s] += dy[off + s] * g * r;
      }
    }
  }
}

#define NORMLAB_INSTANTIATE(T)                                                                    \
  template void norm_stats<T>(T*, T*, T*, const T*, const NormDims&, double);                     \
  template void norm_apply<T>(T*, const T*, const T*, const T*, const T*, const T*,               \
                              const NormDims&);                                                   \
  template void norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*,    \
                                 const NormDims&);                                                \
  template void norm_backward_fixed_stats<T>(T*, T*, T*, const T*, const T*, const T*, const T*,  \
                                             const T*, const NormDims&);
NORMLAB_INSTANTIATE(float)
NORMLAB_INSTANTIATE(double)
#undef NORMLAB_INSTANTIATE

}  // namespace normlab
