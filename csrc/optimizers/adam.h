// Adam, AdamW and AMSGrad (torch.optim.Adam / AdamW). step_size = lr / (1 - beta1^t) and
// bias_correction2_sqrt = sqrt(1 - beta2^t) come from the host:
//   g <- maximize ? -g : g
//   weight decay: p <- p * (1 - lr * wd) (decoupled, AdamW)  or  g <- g + wd * p (Adam)
//   m <- lerp(m, g, 1 - beta1);  v <- beta2 * v + (1 - beta2) * g^2
//   amsgrad: vmax <- max(vmax, v), used in place of v below
//   p <- p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace adam {
constexpr FamilySpec kSpec = make_spec(
    "adam",
    {inout("params"), in("grads"), inout("exp_avgs"), inout("exp_avg_sqs"),
     inout("max_exp_avg_sqs", "amsgrad")},
    {"lr", "beta1", "beta2", "eps", "weight_decay", "step_size", "bias_correction2_sqrt"},
    {"maximize", "weight_decay", "decoupled", "amsgrad"});
constexpr int LR = kSpec.scalar("lr"), BETA1 = kSpec.scalar("beta1"),
              BETA2 = kSpec.scalar("beta2"), EPS = kSpec.scalar("eps"),
              WEIGHT_DECAY = kSpec.scalar("weight_decay"), STEP_SIZE = kSpec.scalar("step_size"),
              BIAS_CORRECTION2_SQRT = kSpec.scalar("bias_correction2_sqrt");
}  // namespace adam
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// The first moment as torch updates it: m <- lerp(m, g, w) with w = 1 - beta1 and
// torch's two-sided lerp (shared by the Adam family and its relatives). 1 - w is
// computed from w, as torch does, not taken as beta1 (they may differ in the last bit).
template <typename T>
struct FirstMoment {
  T w, omw;
  bool low;
  explicit FirstMoment(double beta1)
      : w(static_cast<T>(1.0 - beta1)), omw(static_cast<T>(1.0 - (1.0 - beta1))),
        low(std::fabs(1.0 - beta1) < 0.5) {}
  FO_HD T operator()(T m, T g) const { return lerp(m, g, w, omw, low); }
};

// Operands: p, g, m, v, vmax.
template <typename T, std::uint32_t F>
struct AdamRule {
  static constexpr const FamilySpec* kSpec = &adam::kSpec;
  static constexpr bool AMSGRAD = has(F, kSpec->flag("amsgrad"));
  static constexpr int kOperands = 5;
  static constexpr unsigned kRead = AMSGRAD ? 0x1Fu : 0x0Fu;
  static constexpr unsigned kWrite = AMSGRAD ? 0x1Du : 0x0Du;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay")),
              has(F, kSpec->flag("decoupled"))>
      prelude;
  FirstMoment<T> first;
  T beta2, one_minus_beta2, eps, neg_step_size, bc2_sqrt;

  explicit AdamRule(const Hyper& h)
      : prelude(h.s[adam::LR], h.s[adam::WEIGHT_DECAY]),
        first(h.s[adam::BETA1]),
        beta2(static_cast<T>(h.s[adam::BETA2])),
        one_minus_beta2(static_cast<T>(1.0 - h.s[adam::BETA2])),
        eps(static_cast<T>(h.s[adam::EPS])),
        neg_step_size(static_cast<T>(-h.s[adam::STEP_SIZE])),
        bc2_sqrt(static_cast<T>(h.s[adam::BIAS_CORRECTION2_SQRT])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T m = first(x[2], g);
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

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
