// ASGD, averaged SGD (torch.optim.ASGD). eta and mu are per-param state kept by the
// host (eta = lr / (1 + lambd lr t)^alpha, mu = 1 / max(1, t - t0), from the step
// before); per element:
//   g <- (maximize ? -g : g) + weight_decay * p
//   p <- p (1 - lambd eta);  p <- p - eta g
//   ax <- ax + (p - ax) mu   (mu != 1: the "average" flag),  else ax <- p
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace asgd {
constexpr FamilySpec kSpec = make_spec("asgd", {inout("params"), in("grads"), inout("axs")},
                                       {"eta", "lambd", "mu", "weight_decay"},
                                       {"maximize", "weight_decay", "average"});
constexpr int ETA = kSpec.scalar("eta"), LAMBD = kSpec.scalar("lambd"), MU = kSpec.scalar("mu"),
              WEIGHT_DECAY = kSpec.scalar("weight_decay");
}  // namespace asgd
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, ax (read only when averaging).
template <typename T, std::uint32_t F>
struct AsgdRule {
  static constexpr const FamilySpec* kSpec = &asgd::kSpec;
  static constexpr bool AVERAGE = has(F, kSpec->flag("average"));
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = AVERAGE ? 0x7u : 0x3u;
  static constexpr unsigned kWrite = 0x5u;
  GradPrelude<T, has(F, kSpec->flag("maximize")), has(F, kSpec->flag("weight_decay"))> prelude;
  T decay, neg_eta, mu;

  explicit AsgdRule(const Hyper& h)
      : prelude(0.0, h.s[asgd::WEIGHT_DECAY]),
        decay(static_cast<T>(1.0 - h.s[asgd::LAMBD] * h.s[asgd::ETA])),
        neg_eta(static_cast<T>(-h.s[asgd::ETA])),
        mu(static_cast<T>(h.s[asgd::MU])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    p = p * decay;
    p = p + neg_eta * g;
    x[0] = p;
    x[2] = AVERAGE ? x[2] + (p - x[2]) * mu : p;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
