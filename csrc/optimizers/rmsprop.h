// RMSprop (torch.optim.RMSprop):
//   g <- (maximize ? -g : g) + weight_decay * p
//   v <- alpha * v + (1 - alpha) * g^2
//   centered: m <- lerp(m, g, 1 - alpha);  avg <- sqrt(v - m^2) + eps,  else avg <- sqrt(v) + eps
//   momentum > 0: b <- momentum * b + g / avg;  p <- p - lr * b,  else p <- p - lr * g / avg
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, bool MAXIMIZE, bool WD, bool MOM, bool CENTERED>
void rmsprop_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict p = operand<T>(ptrs, 0);
  const T* __restrict g = operand<T>(ptrs, 1);
  T* __restrict sq = operand<T>(ptrs, 2);
  T* __restrict buf = operand<T>(ptrs, 3);
  T* __restrict gavg = operand<T>(ptrs, 4);
  const T neg_lr = static_cast<T>(-h.s[rmsprop::LR]);
  const T alpha = static_cast<T>(h.s[rmsprop::ALPHA]);
  const double w = 1.0 - h.s[rmsprop::ALPHA];
  const T one_minus_alpha = static_cast<T>(w);
  const T lerp_omw = static_cast<T>(1.0 - w);
  const bool lerp_low = std::fabs(w) < 0.5;
  const T eps = static_cast<T>(h.s[rmsprop::EPS]);
  const T wd = static_cast<T>(h.s[rmsprop::WEIGHT_DECAY]);
  const T momentum = static_cast<T>(h.s[rmsprop::MOMENTUM]);
  for (std::size_t i = 0; i < n; ++i) {
    T gi = MAXIMIZE ? -g[i] : g[i];
    const T pi = p[i];
    if (WD) gi = gi + wd * pi;
    const T v = sq[i] * alpha + one_minus_alpha * gi * gi;
    sq[i] = v;
    T avg;
    if (CENTERED) {
      const T m = lerp(gavg[i], gi, one_minus_alpha, lerp_omw, lerp_low);
      gavg[i] = m;
      avg = std::sqrt(v + T(-1) * m * m) + eps;
    } else {
      avg = std::sqrt(v) + eps;
    }
    if (MOM) {
      const T b = buf[i] * momentum + gi / avg;
      buf[i] = b;
      p[i] = pi + neg_lr * b;
    } else {
      p[i] = pi + neg_lr * gi / avg;
    }
  }
}

template <typename T>
void rmsprop_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  const std::uint32_t f = h.flags;
  dispatch_bools(
      [&](auto mx, auto wd, auto mom, auto cen) {
        rmsprop_loop<T, decltype(mx)::value, decltype(wd)::value, decltype(mom)::value,
                     decltype(cen)::value>(h, ptrs, n);
      },
      bool(f & rmsprop::MAXIMIZE), bool(f & rmsprop::WD), bool(f & rmsprop::USE_MOMENTUM),
      bool(f & rmsprop::CENTERED));
}

}  // namespace FO_ISA
}  // namespace fusedoptim
