// Per-chunk reductions (compiled once per ISA, like the optimizer kernels). Each
// keeps 16 independent double accumulators so the loop vectorises without
// reassociating anything, then adds them in a fixed order: the same input gives
// the same partial on every run and thread count.
#pragma once
#include "optimizers/kernel_common.h"
#include "optimizers/kernel_spec.h"

namespace fusedoptim {
namespace FO_ISA {

constexpr int kLanes = 16;

template <typename T, typename F>
inline double sum_lanes(const T* __restrict x, std::size_t n, F f) {
  double acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += f(static_cast<double>(x[i + j]));
  double tail = 0.0;
  for (; i < n; ++i) tail += f(static_cast<double>(x[i]));
  double s = 0.0;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s + tail;
}

// Sum of (scale * x)^2; scale is 1 except when the caller rescales to avoid overflow.
template <typename T>
double sum_squares(const Hyper& h, void* const* ptrs, std::size_t n) {
  const double scale = h.s[0];
  return sum_lanes(operand<const T>(ptrs, 0), n, [scale](double v) {
    const double y = v * scale;
    return y * y;
  });
}

// max |x|, NaN if any element is NaN.
template <typename T>
double max_abs(const Hyper&, void* const* ptrs, std::size_t n) {
  const T* __restrict x = operand<const T>(ptrs, 0);
  double acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] = max_nan(std::fabs(static_cast<double>(x[i + j])), acc[j]);
  double m = 0.0;
  for (; i < n; ++i) m = max_nan(std::fabs(static_cast<double>(x[i])), m);
  for (int j = 0; j < kLanes; ++j) m = max_nan(acc[j], m);
  return m;
}

// Sum of |x|^p for a general p.
template <typename T>
double sum_pow(const Hyper& h, void* const* ptrs, std::size_t n) {
  const double p = h.s[0];
  const T* x = operand<const T>(ptrs, 0);
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += std::pow(std::fabs(static_cast<double>(x[i])), p);
  return s;
}

// 0 if every element is finite, NaN otherwise (inf * 0 and NaN * 0 are NaN).
template <typename T>
double finite_probe(const Hyper&, void* const* ptrs, std::size_t n) {
  return sum_lanes(operand<const T>(ptrs, 0), n, [](double v) { return v * 0.0; });
}

// Sum of x * y over two aligned runs.
template <typename T>
double dot_product(const Hyper&, void* const* ptrs, std::size_t n) {
  const T* __restrict x = operand<const T>(ptrs, 0);
  const T* __restrict y = operand<const T>(ptrs, 1);
  double acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j)
      acc[j] += static_cast<double>(x[i + j]) * static_cast<double>(y[i + j]);
  double tail = 0.0;
  for (; i < n; ++i) tail += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  double s = 0.0;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s + tail;
}

}  // namespace FO_ISA
}  // namespace fusedoptim
