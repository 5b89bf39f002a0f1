// LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"), as optax.lars:
// weight decay, then the per-tensor trust ratio, then the learning rate, then the
// momentum trace, in two passes over memory:
//   lars_norms (reads p, g; sums ||p||^2 and ||u||^2):
//     g <- maximize ? -g : g;   u = g + wd p
//   the host: trust_ratio = trust_coefficient ||p|| / (||u|| + eps), or 1 where either
//   norm is 0
//   lars_update (reads p, g, b; writes p, b):
//     u <- (-lr) (u trust_ratio);   b <- u + momentum b
//     p <- p + (nesterov ? u + momentum b : b)
// b is optax's trace: it holds the lr-scaled steps.
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace lars_norms {
constexpr FamilySpec kSpec = with_sums(
    make_spec("lars_norms", {in("params"), in("grads")}, {"weight_decay"}, {"maximize", "weight_decay"}),
    2);
constexpr int WEIGHT_DECAY = kSpec.scalar("weight_decay");
}  // namespace lars_norms
namespace lars_update {
constexpr FamilySpec kSpec = make_spec(
    "lars_update", {inout("params"), in("grads"), inout("momentum_buffers")},
    {"weight_decay", "trust_ratio", "lr", "momentum"}, {"maximize", "weight_decay", "nesterov"});
constexpr int WEIGHT_DECAY = kSpec.scalar("weight_decay"), TRUST_RATIO = kSpec.scalar("trust_ratio"),
              LR = kSpec.scalar("lr"), MOMENTUM = kSpec.scalar("momentum");
}  // namespace lars_update
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g (both read). Sums: p, g + wd p.
template <typename T, std::uint32_t F>
struct LarsNormsRule {
  static constexpr const FamilySpec* kSpec = &lars_norms::kSpec;
  static constexpr int kOperands = 2, kSums = 2;
  static constexpr unsigned kRead = 0x3u, kWrite = 0x0u;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;

  explicit LarsNormsRule(const Hyper& h) : prelude(0.0, h.s[lars_norms::WEIGHT_DECAY]) {}

  FO_HD void operator()(T* x, T* r) const {
    T p = x[0];
    r[0] = p;
    r[1] = prelude(x[1], p);
  }
  FO_HD void operator()(T* x) const {
    T r[kSums];
    (*this)(x, r);
  }
};

// Operands: p, g, b.
template <typename T, std::uint32_t F>
struct LarsUpdateRule {
  static constexpr const FamilySpec* kSpec = &lars_update::kSpec;
  static constexpr bool NESTEROV = has(F, kSpec->flag("nesterov"));
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x7u, kWrite = 0x5u;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;
  T ratio, neg_lr, momentum;

  explicit LarsUpdateRule(const Hyper& h)
      : prelude(0.0, h.s[lars_update::WEIGHT_DECAY]),
        ratio(static_cast<T>(h.s[lars_update::TRUST_RATIO])),
        neg_lr(static_cast<T>(-h.s[lars_update::LR])),
        momentum(static_cast<T>(h.s[lars_update::MOMENTUM])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T u = neg_lr * (prelude(x[1], p) * ratio);
    const T b = u + momentum * x[2];
    x[2] = b;
    x[0] = p + (NESTEROV ? u + momentum * b : b);
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
