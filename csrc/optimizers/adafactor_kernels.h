// The per-unit bodies of Adafactor's passes (formula: optimizers/adafactor.h), compiled
// once per ISA by isa/adafactor_table.inc. Sums are kept in double, in kLanes
// independent accumulators added in a fixed order (as reductions/reduce_kernels.h), so a
// unit's sums are the same on every run and the loops vectorise without reassociation.
#pragma once
#include "optimizers/adafactor.h"
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {
namespace af {

constexpr int kLanes = 16;

inline double add_lanes(const double* acc) {
  double s = 0.0;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

// torch: update = clamp(V, eps1^2).rsqrt() * g, in T.
template <typename T>
inline T scaled_grad(T g, T v, T eps1_sq) {
  return g * (T(1) / fo_sqrt(max_nan(v, eps1_sq)));
}

template <typename T>
inline T lerp_to(T start, double mean, const AfConst<T>& k) {
  return lerp(start, static_cast<T>(mean), k.w, k.one_minus_w, k.low);
}

// max(mean of R over the rows of one matrix, eps1), rounded to T as torch's mean is.
template <typename T>
inline T row_mean(const T* r, std::size_t m, T eps1) {
  double s = 0.0;
  for (std::size_t i = 0; i < m; ++i) s += static_cast<double>(r[i]);
  return max_nan(static_cast<T>(s / static_cast<double>(m)), eps1);
}

// ---- whole small matrices: one matrix at a time, in cache between its sub-steps.
// M, N > 0: the shape known at compile time (3x3 convolutions), 0: at run time.
//
// The scale 1/sqrt(max(R_i C_j / rm, eps1^2)) is taken apart as 1/sqrt(R_i / rm) times
// 1/sqrt(C_j): m + n square roots per matrix instead of m n (and no division per value),
// which is what keeps a 3x3 convolution's pass at memory speed. It differs from torch's
// R_i C_j / rm, rsqrt by a few ulp; where R_i C_j / rm falls below eps1^2 the clamp's
// value 1/eps1 is used, as torch's.
constexpr std::size_t kMaxSplitCols = 64;

template <typename T>
struct SplitScale {
  T a[kMaxSplitCols], b[kMaxSplitCols], ra[kMaxSplitCols], rb[kMaxSplitCols];
  T inv_eps1;
  void set(const T* r, const T* c, std::size_t m, std::size_t n, T rm, T eps1_sq) {
    for (std::size_t i = 0; i < m; ++i) {
      a[i] = r[i] / rm;
      ra[i] = T(1) / fo_sqrt(a[i]);
    }
    for (std::size_t j = 0; j < n; ++j) {
      b[j] = c[j];
      rb[j] = T(1) / fo_sqrt(c[j]);
    }
    inv_eps1 = T(1) / fo_sqrt(eps1_sq);
  }
  T operator()(std::size_t i, std::size_t j, T eps1_sq) const {
    const T v = a[i] * b[j];
    return v < eps1_sq ? inv_eps1 : ra[i] * rb[j];
  }
};

template <typename T, int M, int N>
AfSums batches_pass1(const AfBatches<T>& a, const AfConst<T>& k) {
  const std::size_t m = M ? M : a.m, n = N ? N : a.n, mn = m * n;
  const bool split = m <= kMaxSplitCols && n <= kMaxSplitCols;
  SplitScale<T> sc;
  // One accumulator per position in the matrix when the shape is fixed (no chain of
  // dependent adds across the whole run), added in position order at the end.
  constexpr std::size_t kAcc = M && N ? static_cast<std::size_t>(M * N) : 1;
  double pacc[kAcc] = {}, uacc[kAcc] = {};
  for (std::size_t b = 0; b < a.count; ++b) {
    const T* g = a.g + b * mn;
    const T* p = a.p + b * mn;
    T* r = a.row + b * m;
    T* c = a.col + b * n;
    for (std::size_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (std::size_t j = 0; j < n; ++j) {
        const double x = static_cast<double>(g[i * n + j]), y = static_cast<double>(p[i * n + j]);
        s += x * x;
        pacc[kAcc > 1 ? i * n + j : 0] += y * y;
      }
      r[i] = lerp_to(r[i], s / static_cast<double>(n), k);
    }
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t i = 0; i < m; ++i) {
        const double x = static_cast<double>(g[i * n + j]);
        s += x * x;
      }
      c[j] = lerp_to(c[j], s / static_cast<double>(m), k);
    }
    const T rm = row_mean(r, m, k.eps1);
    if (split) sc.set(r, c, m, n, rm, k.eps1_sq);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        const T x = g[i * n + j];
        const double u = static_cast<double>(split ? x * sc(i, j, k.eps1_sq)
                                                   : scaled_grad(x, r[i] * c[j] / rm, k.eps1_sq));
        uacc[kAcc > 1 ? i * n + j : 0] += u * u;
      }
  }
  double p_sq = 0.0, u_sq = 0.0;
  for (std::size_t e = 0; e < kAcc; ++e) {
    p_sq += pacc[e];
    u_sq += uacc[e];
  }
  return {p_sq, u_sq};
}

template <typename T, int M, int N>
void batches_pass3(const AfBatches<T>& a, const AfConst<T>& k, T decay, T scale) {
  const std::size_t m = M ? M : a.m, n = N ? N : a.n, mn = m * n;
  const bool split = m <= kMaxSplitCols && n <= kMaxSplitCols;
  SplitScale<T> sc;
  for (std::size_t b = 0; b < a.count; ++b) {
    const T* g = a.g + b * mn;
    T* p = a.p + b * mn;
    const T* r = a.row + b * m;
    const T* c = a.col + b * n;
    const T rm = row_mean(r, m, k.eps1);
    if (split) sc.set(r, c, m, n, rm, k.eps1_sq);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        const std::size_t e = i * n + j;
        const T u = split ? g[e] * sc(i, j, k.eps1_sq) : scaled_grad(g[e], r[i] * c[j] / rm, k.eps1_sq);
        p[e] = p[e] * decay + scale * u;
      }
  }
}

// 1x1 matrices (1x1 convolutions): every value is its own row and column, so the pass is
// elementwise and vectorises across matrices (kLanes accumulators, lerp's branch hoisted).
template <typename T, bool LOW>
AfSums ones_pass1_impl(const AfBatches<T>& a, const AfConst<T>& k) {
  double pacc[kLanes] = {}, uacc[kLanes] = {};
  const std::size_t n = a.count;
  T* __restrict r = a.row;
  T* __restrict c = a.col;
  const T* __restrict g = a.g;
  const T* __restrict p = a.p;
  const T w = k.w, omw = k.one_minus_w, eps1 = k.eps1, eps1_sq = k.eps1_sq;
  std::size_t e = 0;
  for (; e + kLanes <= n; e += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const T x = g[e + l];
      const double xd = static_cast<double>(x), y = static_cast<double>(p[e + l]);
      const T mean = static_cast<T>(xd * xd);
      const T rv = lerp(r[e + l], mean, w, omw, LOW), cv = lerp(c[e + l], mean, w, omw, LOW);
      r[e + l] = rv;
      c[e + l] = cv;
      const double u = static_cast<double>(scaled_grad(x, rv * cv / max_nan(rv, eps1), eps1_sq));
      pacc[l] += y * y;
      uacc[l] += u * u;
    }
  double pt = 0.0, ut = 0.0;
  for (; e < n; ++e) {
    const T x = g[e];
    const double xd = static_cast<double>(x), y = static_cast<double>(p[e]);
    const T mean = static_cast<T>(xd * xd);
    const T rv = lerp(r[e], mean, w, omw, LOW), cv = lerp(c[e], mean, w, omw, LOW);
    r[e] = rv;
    c[e] = cv;
    const double u = static_cast<double>(scaled_grad(x, rv * cv / max_nan(rv, eps1), eps1_sq));
    pt += y * y;
    ut += u * u;
  }
  return {add_lanes(pacc) + pt, add_lanes(uacc) + ut};
}

template <typename T>
AfSums ones_pass1(const AfBatches<T>& a, const AfConst<T>& k) {
  return k.low ? ones_pass1_impl<T, true>(a, k) : ones_pass1_impl<T, false>(a, k);
}

template <typename T>
void ones_pass3(const AfBatches<T>& a, const AfConst<T>& k, T decay, T scale) {
  T* __restrict p = a.p;
  const T* __restrict g = a.g;
  const T* __restrict r = a.row;
  const T* __restrict c = a.col;
  for (std::size_t e = 0; e < a.count; ++e) {
    const T rm = max_nan(r[e], k.eps1);
    p[e] = p[e] * decay + scale * scaled_grad(g[e], r[e] * c[e] / rm, k.eps1_sq);
  }
}

// Dispatch on the common shapes of the small-matrix passes.
template <typename T>
AfSums small_pass1(const AfBatches<T>& a, const AfConst<T>& k) {
  if (a.m == 1 && a.n == 1) return ones_pass1(a, k);
  if (a.m == 3 && a.n == 3) return batches_pass1<T, 3, 3>(a, k);
  return batches_pass1<T, 0, 0>(a, k);
}

template <typename T>
void small_pass3(const AfBatches<T>& a, const AfConst<T>& k, T decay, T scale) {
  if (a.m == 1 && a.n == 1) return ones_pass3(a, k, decay, scale);
  if (a.m == 3 && a.n == 3) return batches_pass3<T, 3, 3>(a, k, decay, scale);
  return batches_pass3<T, 0, 0>(a, k, decay, scale);
}

// ---- a block of rows of a large matrix.
template <typename T>
double rows_pass1(const AfRows<T>& a, const AfConst<T>& k) {
  const std::size_t n = a.n;
  double* __restrict cp = a.col_partial;
  for (std::size_t j = 0; j < n; ++j) cp[j] = 0.0;
  double pacc[kLanes] = {};
  double pt = 0.0;
  for (std::size_t i = 0; i < a.rows; ++i) {
    const T* __restrict g = a.g + i * n;
    const T* __restrict p = a.p + i * n;
    double racc[kLanes] = {};
    double rt = 0.0;
    std::size_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const double x = static_cast<double>(g[j + l]), y = static_cast<double>(p[j + l]);
        racc[l] += x * x;
        cp[j + l] += x * x;
        pacc[l] += y * y;
      }
    for (; j < n; ++j) {
      const double x = static_cast<double>(g[j]), y = static_cast<double>(p[j]);
      rt += x * x;
      cp[j] += x * x;
      pt += y * y;
    }
    a.row[i] = lerp_to(a.row[i], (add_lanes(racc) + rt) / static_cast<double>(n), k);
  }
  return add_lanes(pacc) + pt;
}

template <typename T>
double rows_pass2(const AfRows<T>& a, const AfConst<T>& k) {
  const std::size_t n = a.n;
  const T* __restrict c = a.col;
  double uacc[kLanes] = {};
  double ut = 0.0;
  for (std::size_t i = 0; i < a.rows; ++i) {
    const T* __restrict g = a.g + i * n;
    const T r = a.row[i], rm = a.row_mean;
    std::size_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const double u = static_cast<double>(scaled_grad(g[j + l], r * c[j + l] / rm, k.eps1_sq));
        uacc[l] += u * u;
      }
    for (; j < n; ++j) {
      const double u = static_cast<double>(scaled_grad(g[j], r * c[j] / rm, k.eps1_sq));
      ut += u * u;
    }
  }
  return add_lanes(uacc) + ut;
}

template <typename T>
void rows_pass3(const AfRows<T>& a, const AfConst<T>& k, T decay, T scale) {
  const std::size_t n = a.n;
  const T* __restrict c = a.col;
  for (std::size_t i = 0; i < a.rows; ++i) {
    const T* __restrict g = a.g + i * n;
    T* __restrict p = a.p + i * n;
    const T r = a.row[i], rm = a.row_mean;
    for (std::size_t j = 0; j < n; ++j)
      p[j] = p[j] * decay + scale * scaled_grad(g[j], r * c[j] / rm, k.eps1_sq);
  }
}

// ---- vectors and 0-d params: V <- lerp(V, g*g, w) (g*g in T, as torch).
template <typename T>
AfSums flat_pass1(const AfFlat<T>& a, const AfConst<T>& k) {
  T* __restrict v = a.var;
  const T* __restrict g = a.g;
  const T* __restrict p = a.p;
  double pacc[kLanes] = {}, uacc[kLanes] = {};
  auto one = [&](std::size_t e, double& pa, double& ua) {
    const T x = g[e];
    const T nv = lerp(v[e], x * x, k.w, k.one_minus_w, k.low);
    v[e] = nv;
    const double u = static_cast<double>(scaled_grad(x, nv, k.eps1_sq));
    const double y = static_cast<double>(p[e]);
    pa += y * y;
    ua += u * u;
  };
  std::size_t e = 0;
  for (; e + kLanes <= a.n; e += kLanes)
    for (int l = 0; l < kLanes; ++l) one(e + l, pacc[l], uacc[l]);
  double pt = 0.0, ut = 0.0;
  for (; e < a.n; ++e) one(e, pt, ut);
  return {add_lanes(pacc) + pt, add_lanes(uacc) + ut};
}

template <typename T>
void flat_pass3(const AfFlat<T>& a, const AfConst<T>& k, T decay, T scale) {
  T* __restrict p = a.p;
  const T* __restrict g = a.g;
  const T* __restrict v = a.var;
  for (std::size_t e = 0; e < a.n; ++e) p[e] = p[e] * decay + scale * scaled_grad(g[e], v[e], k.eps1_sq);
}

template <typename T>
void col_finish(const double* partials, std::size_t units, std::size_t n, std::size_t m, T* col,
                const AfConst<T>& k) {
  for (std::size_t j = 0; j < n; ++j) {
    double s = 0.0;
    for (std::size_t u = 0; u < units; ++u) s += partials[u * n + j];
    col[j] = lerp_to(col[j], s / static_cast<double>(m), k);
  }
}

template <typename T>
constexpr AfKernelsT<T> kernels() {
  return {&small_pass1<T>, &small_pass3<T>, &rows_pass1<T>, &rows_pass2<T>, &rows_pass3<T>,
          &flat_pass1<T>, &flat_pass3<T>, &col_finish<T>, &row_mean<T>};
}

}  // namespace af
}  // namespace FO_ISA
}  // namespace fusedoptim
