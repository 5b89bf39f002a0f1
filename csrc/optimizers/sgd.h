// SGD with momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD):
//   g <- (maximize ? -g : g) + weight_decay * p
//   b <- g on the first step, else momentum * b + (1 - dampening) * g
//   g <- g + momentum * b (nesterov) or b
//   p <- p - lr * g
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace sgd {
constexpr FamilySpec kSpec = make_spec(
    "sgd", {inout("params"), in("grads"), inout("momentum_buffers", "momentum")},
    {"lr", "momentum", "dampening", "weight_decay"},
    {"maximize", "weight_decay", "momentum", "first_step", "nesterov"});
constexpr int LR = kSpec.scalar("lr"), MOMENTUM = kSpec.scalar("momentum"),
              DAMPENING = kSpec.scalar("dampening"), WEIGHT_DECAY = kSpec.scalar("weight_decay");
}  // namespace sgd
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, momentum buffer (read unless on the first step; untouched without momentum).
template <typename T, std::uint32_t F>
struct SgdRule {
  static constexpr const FamilySpec* kSpec = &sgd::kSpec;
  static constexpr bool MOM = has(F, kSpec->flag("momentum"));
  static constexpr bool FIRST = has(F, kSpec->flag("first_step"));
  static constexpr bool NESTEROV = has(F, kSpec->flag("nesterov"));
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = MOM && !FIRST ? 0x7u : 0x3u;
  static constexpr unsigned kWrite = MOM ? 0x5u : 0x1u;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))>
      prelude;
  T neg_lr, momentum, one_minus_dampening;

  explicit SgdRule(const Hyper& h)
      : prelude(0.0, h.s[sgd::WEIGHT_DECAY]),
        neg_lr(static_cast<T>(-h.s[sgd::LR])),
        momentum(static_cast<T>(h.s[sgd::MOMENTUM])),
        one_minus_dampening(static_cast<T>(1.0 - h.s[sgd::DAMPENING])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    T g = prelude(x[1], p);
    if (MOM) {
      const T b = FIRST ? g : x[2] * momentum + one_minus_dampening * g;
      x[2] = b;
      g = NESTEROV ? g + momentum * b : b;
    }
    x[0] = p + neg_lr * g;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
