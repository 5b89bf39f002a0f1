// RMSprop (torch.optim.RMSprop):
//   g <- (maximize ? -g : g) + weight_decay * p
//   v <- alpha * v + (1 - alpha) * g^2
//   centered: m <- lerp(m, g, 1 - alpha);  avg <- sqrt(v - m^2) + eps,  else avg <- sqrt(v) + eps
//   momentum > 0: b <- momentum * b + g / avg;  p <- p - lr * b,  else p <- p - lr * g / avg
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace rmsprop {
constexpr FamilySpec kSpec = make_spec(
    "rmsprop",
    {inout("params"), in("grads"), inout("square_avgs"), inout("momentum_buffers", "momentum"),
     inout("grad_avgs", "centered")},
    {"lr", "alpha", "eps", "weight_decay", "momentum"},
    {"maximize", "weight_decay", "momentum", "centered"});
constexpr int LR = kSpec.scalar("lr"), ALPHA = kSpec.scalar("alpha"), EPS = kSpec.scalar("eps"),
              WEIGHT_DECAY = kSpec.scalar("weight_decay"), MOMENTUM = kSpec.scalar("momentum");
}  // namespace rmsprop
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, square_avg, momentum buffer (with momentum), grad_avg (centered).
template <typename T, std::uint32_t F>
struct RmspropRule {
  static constexpr const FamilySpec* kSpec = &rmsprop::kSpec;
  static constexpr bool MOM = has(F, kSpec->flag("momentum"));
  static constexpr bool CENTERED = has(F, kSpec->flag("centered"));
  static constexpr int kOperands = 5;
  static constexpr unsigned kRead = 0x7u | (MOM ? 0x8u : 0u) | (CENTERED ? 0x10u : 0u);
  static constexpr unsigned kWrite = kRead & ~0x2u;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;
  T neg_lr, alpha, one_minus_alpha, lerp_omw, eps, momentum;
  bool lerp_low;

  explicit RmspropRule(const Hyper& h) : prelude(0.0, h.s[rmsprop::WEIGHT_DECAY]) {
    const double w = 1.0 - h.s[rmsprop::ALPHA];
    neg_lr = static_cast<T>(-h.s[rmsprop::LR]);
    alpha = static_cast<T>(h.s[rmsprop::ALPHA]);
    one_minus_alpha = static_cast<T>(w);
    lerp_omw = static_cast<T>(1.0 - w);
    lerp_low = std::fabs(w) < 0.5;
    eps = static_cast<T>(h.s[rmsprop::EPS]);
    momentum = static_cast<T>(h.s[rmsprop::MOMENTUM]);
  }

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T v = x[2] * alpha + one_minus_alpha * g * g;
    x[2] = v;
    T avg;
    if (CENTERED) {
      const T m = lerp(x[4], g, one_minus_alpha, lerp_omw, lerp_low);
      x[4] = m;
      avg = fo_sqrt(v + T(-1) * m * m) + eps;
    } else {
      avg = fo_sqrt(v) + eps;
    }
    if (MOM) {
      const T b = x[3] * momentum + g / avg;
      x[3] = b;
      x[0] = p + neg_lr * b;
    } else {
      x[0] = p + neg_lr * g / avg;
    }
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
