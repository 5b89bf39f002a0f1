// Adagrad (torch.optim.Adagrad); clr = lr / (1 + (step - 1) * lr_decay) comes from the host:
//   g <- (maximize ? -g : g) + weight_decay * p
//   sum <- sum + g * g
//   p <- p - clr * g / (sqrt(sum) + eps)
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, bool MAXIMIZE, bool WD>
void adagrad_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict p = operand<T>(ptrs, 0);
  const T* __restrict g = operand<T>(ptrs, 1);
  T* __restrict sum = operand<T>(ptrs, 2);
  const T neg_clr = static_cast<T>(-h.s[adagrad::CLR]);
  const T wd = static_cast<T>(h.s[adagrad::WEIGHT_DECAY]);
  const T eps = static_cast<T>(h.s[adagrad::EPS]);
  for (std::size_t i = 0; i < n; ++i) {
    T gi = MAXIMIZE ? -g[i] : g[i];
    const T pi = p[i];
    if (WD) gi = gi + wd * pi;
    const T s = sum[i] + gi * gi;
    sum[i] = s;
    p[i] = pi + neg_clr * gi / (std::sqrt(s) + eps);
  }
}

template <typename T>
void adagrad_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  dispatch_bools(
      [&](auto mx, auto wd) {
        adagrad_loop<T, decltype(mx)::value, decltype(wd)::value>(h, ptrs, n);
      },
      bool(h.flags & adagrad::MAXIMIZE), bool(h.flags & adagrad::WD));
}

}  // namespace FO_ISA
}  // namespace fusedoptim
