#include "losses/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fusedoptim {
namespace {

// Rows per block: the loss is summed per block and the blocks in order, so the
// result does not depend on the thread count.
constexpr std::size_t kRowBlock = 64;

// One row: stores exp(z - max) into g and returns (log-sum-exp, sum of exps).
template <typename T>
inline double row_exps(const T* z, T* g, std::size_t C, double& sum) {
  double m = -INFINITY;
  for (std::size_t c = 0; c < C; ++c) m = z[c] > m ? static_cast<double>(z[c]) : m;
  sum = 0.0;
  for (std::size_t c = 0; c < C; ++c) {
    const double e = std::exp(static_cast<double>(z[c]) - m);
    g[c] = static_cast<T>(e);
    sum += e;
  }
  return m + std::log(sum);
}

template <typename T, typename Row>
double over_rows(std::size_t rows, int threads, Row row) {
  const long blocks = static_cast<long>((rows + kRowBlock - 1) / kRowBlock);
  std::vector<double> partial(blocks, 0.0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (rows * 16 >= 65536)
#endif
  for (long b = 0; b < blocks; ++b) {
    const std::size_t end = std::min(rows, (b + 1) * kRowBlock);
    double s = 0.0;
    for (std::size_t i = b * kRowBlock; i < end; ++i) s += row(i);
    partial[b] = s;
  }
  (void)threads;
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace

template <typename T>
double softmax_xent_labels(const T* logits, const std::int64_t* labels, T* grad, std::size_t rows,
                           std::size_t classes, double grad_scale, int threads) {
  return over_rows<T>(rows, threads, [&](std::size_t i) {
    const T* z = logits + i * classes;
    T* g = grad + i * classes;
    double sum;
    const double lse = row_exps(z, g, classes, sum);
    const double inv = 1.0 / sum;
    for (std::size_t c = 0; c < classes; ++c)
      g[c] = static_cast<T>(static_cast<double>(g[c]) * inv * grad_scale);
    const std::int64_t y = labels[i];
    g[y] = static_cast<T>(static_cast<double>(g[y]) - grad_scale);
    return lse - static_cast<double>(z[y]);
  });
}

template <typename T>
double softmax_xent_probs(const T* logits, const T* probs, T* grad, std::size_t rows,
                          std::size_t classes, double grad_scale, int threads) {
  return over_rows<T>(rows, threads, [&](std::size_t i) {
    const T* z = logits + i * classes;
    const T* y = probs + i * classes;
    T* g = grad + i * classes;
    double sum;
    const double lse = row_exps(z, g, classes, sum);
    double sy = 0.0, syz = 0.0;
    for (std::size_t c = 0; c < classes; ++c) {
      sy += static_cast<double>(y[c]);
      syz += static_cast<double>(y[c]) * static_cast<double>(z[c]);
    }
    const double inv = 1.0 / sum;
    for (std::size_t c = 0; c < classes; ++c)
      g[c] = static_cast<T>((static_cast<double>(g[c]) * inv * sy - static_cast<double>(y[c])) *
                            grad_scale);
    return lse * sy - syz;
  });
}

template double softmax_xent_labels<float>(const float*, const std::int64_t*, float*, std::size_t,
                                           std::size_t, double, int);
template double softmax_xent_labels<double>(const double*, const std::int64_t*, double*,
                                            std::size_t, std::size_t, double, int);
template double softmax_xent_probs<float>(const float*, const float*, float*, std::size_t,
                                          std::size_t, double, int);
template double softmax_xent_probs<double>(const double*, const double*, double*, std::size_t,
                                           std::size_t, double, int);

}  // namespace fusedoptim
