// LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning"), as optax.lamb:
// Adam's update (eps_root = 0) plus decoupled weight decay, scaled per tensor by the
// trust ratio ||p|| / ||u||, in two passes over memory:
//   lamb_moments (reads p, g, m, v; writes m, v; sums ||p||^2 and ||u||^2):
//     g <- maximize ? -g : g
//     m <- (1 - beta1) g + beta1 m;   v <- (1 - beta2) g^2 + beta2 v
//     u  = (m / bc1) / (sqrt(v / bc2) + eps) + wd p       bc_i = 1 - beta_i^t
//   the host: trust_ratio = ||p|| / ||u||, or 1 where either norm is 0
//   lamb_update (reads p, m, v; writes p):
//     p <- p + (-lr) (u trust_ratio), u recomputed from the new m, v exactly as above
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace lamb_moments {
// params are marked written though this pass only reads them: its work is what checks
// the whole step, and the update pass writes them (a grad sharing a param's memory,
// a read-only param: refused before the moments change).
constexpr FamilySpec kSpec = with_sums(
    make_spec("lamb_moments", {inout("params"), in("grads"), inout("exp_avgs"), inout("exp_avg_sqs")},
              {"beta1", "beta2", "eps", "weight_decay", "bias_correction1", "bias_correction2"},
              {"maximize", "weight_decay"}),
    2);
constexpr int BETA1 = kSpec.scalar("beta1"), BETA2 = kSpec.scalar("beta2"),
              EPS = kSpec.scalar("eps"), WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              BC1 = kSpec.scalar("bias_correction1"), BC2 = kSpec.scalar("bias_correction2");
}  // namespace lamb_moments
namespace lamb_update {
constexpr FamilySpec kSpec = make_spec(
    "lamb_update", {inout("params"), in("exp_avgs"), in("exp_avg_sqs")},
    {"eps", "weight_decay", "bias_correction1", "bias_correction2", "trust_ratio", "lr"},
    {"weight_decay"});
constexpr int EPS = kSpec.scalar("eps"), WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              BC1 = kSpec.scalar("bias_correction1"), BC2 = kSpec.scalar("bias_correction2"),
              TRUST_RATIO = kSpec.scalar("trust_ratio"), LR = kSpec.scalar("lr");
}  // namespace lamb_update
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// The bias-corrected Adam direction plus decoupled weight decay, as optax computes it.
template <typename T, bool WD>
struct LambDirection {
  T bc1, bc2, eps, wd;
  LambDirection(double bias_correction1, double bias_correction2, double e, double weight_decay)
      : bc1(static_cast<T>(bias_correction1)), bc2(static_cast<T>(bias_correction2)),
        eps(static_cast<T>(e)), wd(static_cast<T>(weight_decay)) {}
  FO_HD T operator()(T p, T m, T v) const {
    T u = (m / bc1) / (fo_sqrt(v / bc2) + eps);
    if (WD) u = u + wd * p;
    return u;
  }
};

// Operands: p (read), g, m, v. Sums: p, u.
template <typename T, std::uint32_t F>
struct LambMomentsRule {
  static constexpr const FamilySpec* kSpec = &lamb_moments::kSpec;
  static constexpr bool MAXIMIZE = has(F, kSpec->flag("maximize"));
  static constexpr int kOperands = 4, kSums = 2;
  static constexpr unsigned kRead = 0xFu, kWrite = 0xCu;
  T beta1, one_minus_beta1, beta2, one_minus_beta2;
  LambDirection<T, has(F, kSpec->flag("weight_decay"))> direction;

  explicit LambMomentsRule(const Hyper& h)
      : beta1(static_cast<T>(h.s[lamb_moments::BETA1])),
        one_minus_beta1(static_cast<T>(1.0 - h.s[lamb_moments::BETA1])),
        beta2(static_cast<T>(h.s[lamb_moments::BETA2])),
        one_minus_beta2(static_cast<T>(1.0 - h.s[lamb_moments::BETA2])),
        direction(h.s[lamb_moments::BC1], h.s[lamb_moments::BC2], h.s[lamb_moments::EPS],
                  h.s[lamb_moments::WEIGHT_DECAY]) {}

  FO_HD void operator()(T* x, T* r) const {
    const T g = MAXIMIZE ? -x[1] : x[1];
    const T m = one_minus_beta1 * g + beta1 * x[2];
    const T v = one_minus_beta2 * (g * g) + beta2 * x[3];
    x[2] = m;
    x[3] = v;
    r[0] = x[0];
    r[1] = direction(x[0], m, v);
  }
  FO_HD void operator()(T* x) const {
    T r[kSums];
    (*this)(x, r);
  }
};

// Operands: p, m, v.
template <typename T, std::uint32_t F>
struct LambUpdateRule {
  static constexpr const FamilySpec* kSpec = &lamb_update::kSpec;
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x7u, kWrite = 0x1u;
  LambDirection<T, has(F, kSpec->flag("weight_decay"))> direction;
  T ratio, neg_lr;

  explicit LambUpdateRule(const Hyper& h)
      : direction(h.s[lamb_update::BC1], h.s[lamb_update::BC2], h.s[lamb_update::EPS],
                  h.s[lamb_update::WEIGHT_DECAY]),
        ratio(static_cast<T>(h.s[lamb_update::TRUST_RATIO])),
        neg_lr(static_cast<T>(-h.s[lamb_update::LR])) {}

  FO_HD void operator()(T* x) const { x[0] = x[0] + neg_lr * (direction(x[0], x[1], x[2]) * ratio); }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
