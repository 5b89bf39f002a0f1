// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; optax.lion):
//   g <- maximize ? -g : g
//   u <- sign(beta1 m + (1 - beta1) g)       (NaN stays NaN)
//   p <- p (1 - lr wd) - lr u
//   m <- beta2 m + (1 - beta2) g
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace lion {
constexpr FamilySpec kSpec = make_spec("lion", {inout("params"), in("grads"), inout("exp_avgs")},
                                       {"lr", "beta1", "beta2", "weight_decay"},
                                       {"maximize", "weight_decay"});
constexpr int LR = kSpec.scalar("lr"), BETA1 = kSpec.scalar("beta1"),
              BETA2 = kSpec.scalar("beta2"), WEIGHT_DECAY = kSpec.scalar("weight_decay");
}  // namespace lion
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, exp_avg.
template <typename T, std::uint32_t F>
struct LionRule {
  static constexpr const FamilySpec* kSpec = &lion::kSpec;
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x7u;
  static constexpr unsigned kWrite = 0x5u;
  // Lion's weight decay is decoupled: p (1 - lr wd), the formula's own order.
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay")), true>
      prelude;
  T beta1, one_minus_beta1, beta2, one_minus_beta2, neg_lr;

  explicit LionRule(const Hyper& h)
      : prelude(h.s[lion::LR], h.s[lion::WEIGHT_DECAY]),
        beta1(static_cast<T>(h.s[lion::BETA1])),
        one_minus_beta1(static_cast<T>(1.0 - h.s[lion::BETA1])),
        beta2(static_cast<T>(h.s[lion::BETA2])),
        one_minus_beta2(static_cast<T>(1.0 - h.s[lion::BETA2])),
        neg_lr(static_cast<T>(-h.s[lion::LR])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T m = x[2];
    const T c = beta1 * m + one_minus_beta1 * g;
    T u = sign(c);
    u = (c != c) ? c : u;  // sign() gives 0 for NaN; Lion's update keeps it NaN
    x[0] = p + neg_lr * u;
    x[2] = beta2 * m + one_minus_beta2 * g;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
