// Adagrad (torch.optim.Adagrad); clr = lr / (1 + (step - 1) * lr_decay) comes from the host:
//   g <- (maximize ? -g : g) + weight_decay * p
//   sum <- sum + g * g
//   p <- p - clr * g / (sqrt(sum) + eps)
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace adagrad {
constexpr FamilySpec kSpec = make_spec("adagrad", {inout("params"), in("grads"), inout("state_sums")},
                                       {"clr", "weight_decay", "eps"}, {"maximize", "weight_decay"});
constexpr int CLR = kSpec.scalar("clr"), WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              EPS = kSpec.scalar("eps");
}  // namespace adagrad
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, sum.
template <typename T, std::uint32_t F>
struct AdagradRule {
  static constexpr const FamilySpec* kSpec = &adagrad::kSpec;
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x7u;
  static constexpr unsigned kWrite = 0x5u;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;
  T neg_clr, eps;

  explicit AdagradRule(const Hyper& h)
      : prelude(0.0, h.s[adagrad::WEIGHT_DECAY]),
        neg_clr(static_cast<T>(-h.s[adagrad::CLR])),
        eps(static_cast<T>(h.s[adagrad::EPS])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T s = x[2] + g * g;
    x[2] = s;
    x[0] = p + neg_clr * g / (fo_sqrt(s) + eps);
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
