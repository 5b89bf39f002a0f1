// Adamax (torch.optim.Adamax); clr = lr / (1 - beta1^t) comes from the host:
//   g <- (maximize ? -g : g) + weight_decay * p
//   m <- lerp(m, g, 1 - beta1)
//   u <- max(beta2 * u, |g| + eps)          (NaN in either gives NaN, as torch.maximum)
//   p <- p - clr * m / u
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace adamax {
constexpr FamilySpec kSpec =
    make_spec("adamax", {inout("params"), in("grads"), inout("exp_avgs"), inout("exp_infs")},
              {"beta1", "beta2", "eps", "weight_decay", "clr"}, {"maximize", "weight_decay"});
constexpr int BETA1 = kSpec.scalar("beta1"), BETA2 = kSpec.scalar("beta2"),
              EPS = kSpec.scalar("eps"), WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              CLR = kSpec.scalar("clr");
}  // namespace adamax
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/adam.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, exp_avg, exp_inf.
template <typename T, std::uint32_t F>
struct AdamaxRule {
  static constexpr const FamilySpec* kSpec = &adamax::kSpec;
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0xFu;
  static constexpr unsigned kWrite = 0xDu;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;
  FirstMoment<T> first;
  T beta2, eps, neg_clr;

  explicit AdamaxRule(const Hyper& h)
      : prelude(0.0, h.s[adamax::WEIGHT_DECAY]),
        first(h.s[adamax::BETA1]),
        beta2(static_cast<T>(h.s[adamax::BETA2])),
        eps(static_cast<T>(h.s[adamax::EPS])),
        neg_clr(static_cast<T>(-h.s[adamax::CLR])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T m = first(x[2], g);
    const T u = max_nan(x[3] * beta2, fo_fabs(g) + eps);
    x[2] = m;
    x[3] = u;
    x[0] = p + neg_clr * m / u;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
