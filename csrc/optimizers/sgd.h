// SGD with momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD):
//   g <- (maximize ? -g : g) + weight_decay * p
//   b <- g on the first step, else momentum * b + (1 - dampening) * g
//   g <- g + momentum * b (nesterov) or b
//   p <- p - lr * g
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, bool MAXIMIZE, bool WD, bool MOM, bool FIRST, bool NESTEROV>
void sgd_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict p = operand<T>(ptrs, 0);
  const T* __restrict g = operand<T>(ptrs, 1);
  T* __restrict buf = operand<T>(ptrs, 2);
  const T neg_lr = static_cast<T>(-h.s[sgd::LR]);
  const T momentum = static_cast<T>(h.s[sgd::MOMENTUM]);
  const T one_minus_dampening = static_cast<T>(1.0 - h.s[sgd::DAMPENING]);
  const T wd = static_cast<T>(h.s[sgd::WEIGHT_DECAY]);
  for (std::size_t i = 0; i < n; ++i) {
    T gi = MAXIMIZE ? -g[i] : g[i];
    const T pi = p[i];
    if (WD) gi = gi + wd * pi;
    if (MOM) {
      const T b = FIRST ? gi : buf[i] * momentum + one_minus_dampening * gi;
      buf[i] = b;
      gi = NESTEROV ? gi + momentum * b : b;
    }
    p[i] = pi + neg_lr * gi;
  }
}

template <typename T>
void sgd_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  const std::uint32_t f = h.flags;
  dispatch_bools(
      [&](auto mx, auto wd, auto mom, auto first, auto nest) {
        sgd_loop<T, decltype(mx)::value, decltype(wd)::value, decltype(mom)::value,
                 decltype(first)::value, decltype(nest)::value>(h, ptrs, n);
      },
      bool(f & sgd::MAXIMIZE), bool(f & sgd::WD), bool(f & sgd::USE_MOMENTUM),
      bool(f & sgd::FIRST_STEP), bool(f & sgd::NESTEROV));
}

}  // namespace FO_ISA
}  // namespace fusedoptim
