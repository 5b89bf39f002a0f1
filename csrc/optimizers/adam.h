// Adam, AdamW and AMSGrad (torch.optim.Adam / AdamW). step_size = lr / (1 - beta1^t) and
// bias_correction2_sqrt = sqrt(1 - beta2^t) come from the host:
//   g <- maximize ? -g : g
//   weight decay: p <- p * (1 - lr * wd) (decoupled, AdamW)  or  g <- g + wd * p (Adam)
//   m <- lerp(m, g, 1 - beta1);  v <- beta2 * v + (1 - beta2) * g^2
//   amsgrad: vmax <- max(vmax, v), used in place of v below
//   p <- p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, bool MAXIMIZE, bool WD, bool DECOUPLED, bool AMSGRAD>
void adam_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict p = operand<T>(ptrs, 0);
  const T* __restrict g = operand<T>(ptrs, 1);
  T* __restrict m = operand<T>(ptrs, 2);
  T* __restrict v = operand<T>(ptrs, 3);
  T* __restrict vmax = operand<T>(ptrs, 4);
  const double w = 1.0 - h.s[adam::BETA1];
  const T w1 = static_cast<T>(w);
  const T w1_omw = static_cast<T>(1.0 - w);
  const bool w1_low = std::fabs(w) < 0.5;
  const T beta2 = static_cast<T>(h.s[adam::BETA2]);
  const T one_minus_beta2 = static_cast<T>(1.0 - h.s[adam::BETA2]);
  const T eps = static_cast<T>(h.s[adam::EPS]);
  const T wd = static_cast<T>(h.s[adam::WEIGHT_DECAY]);
  const T decay = static_cast<T>(1.0 - h.s[adam::LR] * h.s[adam::WEIGHT_DECAY]);
  const T neg_step_size = static_cast<T>(-h.s[adam::STEP_SIZE]);
  const T bc2_sqrt = static_cast<T>(h.s[adam::BIAS_CORRECTION2_SQRT]);
  for (std::size_t i = 0; i < n; ++i) {
    T gi = MAXIMIZE ? -g[i] : g[i];
    T pi = p[i];
    if (WD) {
      if (DECOUPLED)
        pi = pi * decay;
      else
        gi = gi + wd * pi;
    }
    const T mi = lerp(m[i], gi, w1, w1_omw, w1_low);
    const T vi = v[i] * beta2 + one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    T vv = vi;
    if (AMSGRAD) {
      vv = max_nan(vmax[i], vi);
      vmax[i] = vv;
    }
    const T denom = std::sqrt(vv) / bc2_sqrt + eps;
    p[i] = pi + neg_step_size * mi / denom;
  }
}

template <typename T>
void adam_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  const std::uint32_t f = h.flags;
  dispatch_bools(
      [&](auto mx, auto wd, auto dec, auto ams) {
        adam_loop<T, decltype(mx)::value, decltype(wd)::value, decltype(dec)::value,
                  decltype(ams)::value>(h, ptrs, n);
      },
      bool(f & adam::MAXIMIZE), bool(f & adam::WD), bool(f & adam::DECOUPLED),
      bool(f & adam::AMSGRAD));
}

}  // namespace FO_ISA
}  // namespace fusedoptim
