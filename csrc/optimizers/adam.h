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

// Operands: p, g, m, v, vmax.
template <typename T, bool MAXIMIZE, bool WD, bool DECOUPLED, bool AMSGRAD>
struct AdamRule {
  static constexpr int kOperands = 5;
  static constexpr unsigned kRead = AMSGRAD ? 0x1Fu : 0x0Fu;
  static constexpr unsigned kWrite = AMSGRAD ? 0x1Du : 0x0Du;
  T w1, w1_omw, beta2, one_minus_beta2, eps, wd, decay, neg_step_size, bc2_sqrt;
  bool w1_low;

  explicit AdamRule(const Hyper& h) {
    const double w = 1.0 - h.s[adam::BETA1];
    w1 = static_cast<T>(w);
    w1_omw = static_cast<T>(1.0 - w);
    w1_low = std::fabs(w) < 0.5;
    beta2 = static_cast<T>(h.s[adam::BETA2]);
    one_minus_beta2 = static_cast<T>(1.0 - h.s[adam::BETA2]);
    eps = static_cast<T>(h.s[adam::EPS]);
    wd = static_cast<T>(h.s[adam::WEIGHT_DECAY]);
    decay = static_cast<T>(1.0 - h.s[adam::LR] * h.s[adam::WEIGHT_DECAY]);
    neg_step_size = static_cast<T>(-h.s[adam::STEP_SIZE]);
    bc2_sqrt = static_cast<T>(h.s[adam::BIAS_CORRECTION2_SQRT]);
  }

  FO_HD void operator()(T* x) const {
    T g = MAXIMIZE ? -x[1] : x[1];
    T p = x[0];
    if (WD) {
      if (DECOUPLED)
        p = p * decay;
      else
        g = g + wd * p;
    }
    const T m = lerp(x[2], g, w1, w1_omw, w1_low);
    const T v = x[3] * beta2 + one_minus_beta2 * g * g;
    x[2] = m;
    x[3] = v;
    T vv = v;
    if (AMSGRAD) {
      vv = max_nan(x[4], v);
      x[4] = vv;
    }
    const T denom = fo_sqrt(vv) / bc2_sqrt + eps;
    x[0] = p + neg_step_size * m / denom;
  }
};

struct AdamFamily {
  template <typename T, typename F>
  static void with_rule(std::uint32_t f, F&& fn) {
    dispatch_bools(
        [&](auto mx, auto wd, auto dec, auto ams) {
          fn(RuleTag<AdamRule<T, decltype(mx)::value, decltype(wd)::value, decltype(dec)::value,
                              decltype(ams)::value>>{});
        },
        bool(f & adam::MAXIMIZE), bool(f & adam::WD), bool(f & adam::DECOUPLED),
        bool(f & adam::AMSGRAD));
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
