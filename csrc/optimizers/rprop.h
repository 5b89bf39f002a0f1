// Rprop (torch.optim.Rprop), per element:
//   g <- maximize ? -g : g;  s <- sign(g * prev)
//   eta <- etaplus (s > 0), etaminus (s < 0), 1 (s == 0)
//   step_size <- clamp(step_size * eta, step_size_min, step_size_max)
//   g <- 0 where eta == etaminus  (after a sign flip the step is skipped and remembered as 0)
//   p <- p - sign(g) * step_size;  prev <- g
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, bool MAXIMIZE>
void rprop_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict p = operand<T>(ptrs, 0);
  const T* __restrict g = operand<T>(ptrs, 1);
  T* __restrict prev = operand<T>(ptrs, 2);
  T* __restrict step = operand<T>(ptrs, 3);
  const T etaminus = static_cast<T>(h.s[rprop::ETAMINUS]);
  const T etaplus = static_cast<T>(h.s[rprop::ETAPLUS]);
  const T lo = static_cast<T>(h.s[rprop::STEP_SIZE_MIN]);
  const T hi = static_cast<T>(h.s[rprop::STEP_SIZE_MAX]);
  for (std::size_t i = 0; i < n; ++i) {
    const T gi = MAXIMIZE ? -g[i] : g[i];
    const T prod = gi * prev[i];
    // NaN products keep NaN, as torch's masked assignments leave them.
    T eta = prod == T(0) ? T(1) : prod;
    eta = prod > T(0) ? etaplus : eta;
    eta = prod < T(0) ? etaminus : eta;
    const T s = clamp_nan(step[i] * eta, lo, hi);
    const T gz = (eta == etaminus) ? T(0) : gi;
    step[i] = s;
    prev[i] = gz;
    p[i] = p[i] + T(-1) * sign(gz) * s;
  }
}

template <typename T>
void rprop_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  dispatch_bools([&](auto mx) { rprop_loop<T, decltype(mx)::value>(h, ptrs, n); },
                 bool(h.flags & rprop::MAXIMIZE));
}

}  // namespace FO_ISA
}  // namespace fusedoptim
