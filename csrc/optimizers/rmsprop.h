// RMSprop (torch.optim.RMSprop):
//   g <- (maximize ? -g : g) + weight_decay * p
//   v <- alpha * v + (1 - alpha) * g^2
//   centered: m <- lerp(m, g, 1 - alpha);  avg <- sqrt(v - m^2) + eps,  else avg <- sqrt(v) + eps
//   momentum > 0: b <- momentum * b + g / avg;  p <- p - lr * b,  else p <- p - lr * g / avg
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, square_avg, momentum buffer (with momentum), grad_avg (centered).
template <typename T, bool MAXIMIZE, bool WD, bool MOM, bool CENTERED>
struct RmspropRule {
  static constexpr int kOperands = 5;
  static constexpr unsigned kRead = 0x7u | (MOM ? 0x8u : 0u) | (CENTERED ? 0x10u : 0u);
  static constexpr unsigned kWrite = kRead & ~0x2u;
  T neg_lr, alpha, one_minus_alpha, lerp_omw, eps, wd, momentum;
  bool lerp_low;

  explicit RmspropRule(const Hyper& h) {
    const double w = 1.0 - h.s[rmsprop::ALPHA];
    neg_lr = static_cast<T>(-h.s[rmsprop::LR]);
    alpha = static_cast<T>(h.s[rmsprop::ALPHA]);
    one_minus_alpha = static_cast<T>(w);
    lerp_omw = static_cast<T>(1.0 - w);
    lerp_low = std::fabs(w) < 0.5;
    eps = static_cast<T>(h.s[rmsprop::EPS]);
    wd = static_cast<T>(h.s[rmsprop::WEIGHT_DECAY]);
    momentum = static_cast<T>(h.s[rmsprop::MOMENTUM]);
  }

  FO_HD void operator()(T* x) const {
    T g = MAXIMIZE ? -x[1] : x[1];
    const T p = x[0];
    if (WD) g = g + wd * p;
    const T v = x[2] * alpha + one_minus_alpha * g * g;
    x[2] = v;
    T avg;
    if (CENTERED) {
      const T m = lerp(x[4], g, one_minus_alpha, lerp_omw, lerp_low);
      x[4] = m;
      avg = fo_sqrt(v + T(-1) * m * m) + eps;
    } else {
      avg = fo_sqrt(v) + eps;
    }
    if (MOM) {
      const T b = x[3] * momentum + g / avg;
      x[3] = b;
      x[0] = p + neg_lr * b;
    } else {
      x[0] = p + neg_lr * g / avg;
    }
  }
};

struct RmspropFamily {
  template <typename T, typename F>
  static void with_rule(std::uint32_t f, F&& fn) {
    dispatch_bools(
        [&](auto mx, auto wd, auto mom, auto cen) {
          fn(RuleTag<RmspropRule<T, decltype(mx)::value, decltype(wd)::value,
                                 decltype(mom)::value, decltype(cen)::value>>{});
        },
        bool(f & rmsprop::MAXIMIZE), bool(f & rmsprop::WD), bool(f & rmsprop::USE_MOMENTUM),
        bool(f & rmsprop::CENTERED));
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
