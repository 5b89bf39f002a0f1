// RAdam (torch.optim.RAdam). From the host, per step t: bias_correction1 = 1 - beta1^t,
// sqrt(1 - beta2^t), and the rectification r_t: with rho_inf = 2 / (1 - beta2) - 1 and
// rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t),
//   r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)) if rho_t > 5,
//   else 0, meaning "not rectified". Per element:
//   g <- maximize ? -g : g;  weight decay: p <- p (1 - lr wd) (decoupled) or g <- g + wd p
//   m <- lerp(m, g, 1 - beta1);  v <- beta2 v + (1 - beta2) g^2
//   u <- m / bias_correction1 * lr
//   rectified: p <- p - u * (sqrt(1 - beta2^t) / (sqrt(v) + eps)) * r_t,  else p <- p - u
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace radam {
constexpr FamilySpec kSpec = make_spec(
    "radam", {inout("params"), in("grads"), inout("exp_avgs"), inout("exp_avg_sqs")},
    {"lr", "beta1", "beta2", "eps", "weight_decay", "bias_correction1", "bias_correction2_sqrt",
     "rect"},
    {"maximize", "weight_decay", "decoupled"});
constexpr int LR = kSpec.scalar("lr"), BETA1 = kSpec.scalar("beta1"),
              BETA2 = kSpec.scalar("beta2"), EPS = kSpec.scalar("eps"),
              WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              BIAS_CORRECTION1 = kSpec.scalar("bias_correction1"),
              BIAS_CORRECTION2_SQRT = kSpec.scalar("bias_correction2_sqrt"),
              RECT = kSpec.scalar("rect");
}  // namespace radam
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/adam.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, exp_avg, exp_avg_sq. Whether the step is rectified is a per-step
// scalar (r_t > 0), not a flag: a reused plan keeps its flags while rho_t crosses 5. The
// branch is a select, so the unrectified step never sees sqrt(v) (0/0 with eps = 0).
template <typename T, std::uint32_t F>
struct RadamRule {
  static constexpr const FamilySpec* kSpec = &radam::kSpec;
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0xFu;
  static constexpr unsigned kWrite = 0xDu;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay")),
              has(F, kSpec->flag("decoupled"))>
      prelude;
  FirstMoment<T> first;
  T beta2, one_minus_beta2, eps, lr, bc1, bc2_sqrt, rect;
  bool rectified;

  explicit RadamRule(const Hyper& h)
      : prelude(h.s[radam::LR], h.s[radam::WEIGHT_DECAY]),
        first(h.s[radam::BETA1]),
        beta2(static_cast<T>(h.s[radam::BETA2])),
        one_minus_beta2(static_cast<T>(1.0 - h.s[radam::BETA2])),
        eps(static_cast<T>(h.s[radam::EPS])),
        lr(static_cast<T>(h.s[radam::LR])),
        bc1(static_cast<T>(h.s[radam::BIAS_CORRECTION1])),
        bc2_sqrt(static_cast<T>(h.s[radam::BIAS_CORRECTION2_SQRT])),
        rect(static_cast<T>(h.s[radam::RECT])),
        rectified(h.s[radam::RECT] > 0.0) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T m = first(x[2], g);
    const T v = x[3] * beta2 + one_minus_beta2 * g * g;
    x[2] = m;
    x[3] = v;
    const T u = m / bc1 * lr;
    const T r = u * (bc2_sqrt / (fo_sqrt(v) + eps)) * rect;
    x[0] = p + T(-1) * (rectified ? r : u);
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
