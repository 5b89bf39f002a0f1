// NAdam (torch.optim.NAdam). The momentum schedule comes from the host, per step t:
//   mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay)), mu_product <- mu_product * mu_t
//   c_grad = -lr (1 - mu_t) / (1 - mu_product),  c_avg = -lr mu_{t+1} / (1 - mu_product mu_{t+1})
//   bias_correction2 = 1 - beta2^t
// and per element:
//   g <- maximize ? -g : g;  weight decay: p <- p (1 - lr wd) (decoupled) or g <- g + wd p
//   m <- lerp(m, g, 1 - beta1);  v <- beta2 v + (1 - beta2) g^2
//   d <- sqrt(v / bias_correction2) + eps
//   p <- p + c_grad * g / d;  p <- p + c_avg * m / d
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace nadam {
constexpr FamilySpec kSpec = make_spec(
    "nadam", {inout("params"), in("grads"), inout("exp_avgs"), inout("exp_avg_sqs")},
    {"lr", "beta1", "beta2", "eps", "weight_decay", "bias_correction2", "c_grad", "c_avg"},
    {"maximize", "weight_decay", "decoupled"});
constexpr int LR = kSpec.scalar("lr"), BETA1 = kSpec.scalar("beta1"),
              BETA2 = kSpec.scalar("beta2"), EPS = kSpec.scalar("eps"),
              WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              BIAS_CORRECTION2 = kSpec.scalar("bias_correction2"),
              C_GRAD = kSpec.scalar("c_grad"), C_AVG = kSpec.scalar("c_avg");
}  // namespace nadam
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/adam.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, exp_avg, exp_avg_sq.
template <typename T, std::uint32_t F>
struct NadamRule {
  static constexpr const FamilySpec* kSpec = &nadam::kSpec;
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0xFu;
  static constexpr unsigned kWrite = 0xDu;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay")),
              has(F, kSpec->flag("decoupled"))>
      prelude;
  FirstMoment<T> first;
  T beta2, one_minus_beta2, eps, bc2, c_grad, c_avg;

  explicit NadamRule(const Hyper& h)
      : prelude(h.s[nadam::LR], h.s[nadam::WEIGHT_DECAY]),
        first(h.s[nadam::BETA1]),
        beta2(static_cast<T>(h.s[nadam::BETA2])),
        one_minus_beta2(static_cast<T>(1.0 - h.s[nadam::BETA2])),
        eps(static_cast<T>(h.s[nadam::EPS])),
        bc2(static_cast<T>(h.s[nadam::BIAS_CORRECTION2])),
        c_grad(static_cast<T>(h.s[nadam::C_GRAD])),
        c_avg(static_cast<T>(h.s[nadam::C_AVG])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T m = first(x[2], g);
    const T v = x[3] * beta2 + one_minus_beta2 * g * g;
    x[2] = m;
    x[3] = v;
    const T d = fo_sqrt(v / bc2) + eps;
    p = p + c_grad * g / d;
    x[0] = p + c_avg * m / d;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
