// Adadelta (torch.optim.Adadelta):
//   g <- (maximize ? -g : g) + weight_decay * p
//   v <- rho v + (1 - rho) g^2
//   d <- sqrt(a + eps) / sqrt(v + eps) * g
//   a <- rho a + (1 - rho) d^2
//   p <- p - lr * d
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace adadelta {
constexpr FamilySpec kSpec = make_spec(
    "adadelta", {inout("params"), in("grads"), inout("square_avgs"), inout("acc_deltas")},
    {"lr", "rho", "eps", "weight_decay"}, {"maximize", "weight_decay"});
constexpr int LR = kSpec.scalar("lr"), RHO = kSpec.scalar("rho"), EPS = kSpec.scalar("eps"),
              WEIGHT_DECAY = kSpec.scalar("weight_decay");
}  // namespace adadelta
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, square_avg, acc_delta.
template <typename T, std::uint32_t F>
struct AdadeltaRule {
  static constexpr const FamilySpec* kSpec = &adadelta::kSpec;
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0xFu;
  static constexpr unsigned kWrite = 0xDu;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;
  T rho, one_minus_rho, eps, neg_lr;

  explicit AdadeltaRule(const Hyper& h)
      : prelude(0.0, h.s[adadelta::WEIGHT_DECAY]),
        rho(static_cast<T>(h.s[adadelta::RHO])),
        one_minus_rho(static_cast<T>(1.0 - h.s[adadelta::RHO])),
        eps(static_cast<T>(h.s[adadelta::EPS])),
        neg_lr(static_cast<T>(-h.s[adadelta::LR])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T v = x[2] * rho + one_minus_rho * g * g;
    const T d = fo_sqrt(x[3] + eps) / fo_sqrt(v + eps) * g;
    x[2] = v;
    x[3] = x[3] * rho + one_minus_rho * d * d;
    x[0] = p + neg_lr * d;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
