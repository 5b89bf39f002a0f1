// Rprop (torch.optim.Rprop), per element:
//   g <- maximize ? -g : g;  s <- sign(g * prev)
//   eta <- etaplus (s > 0), etaminus (s < 0), 1 (s == 0)
//   step_size <- clamp(step_size * eta, step_size_min, step_size_max)
//   g <- 0 where eta == etaminus  (after a sign flip the step is skipped and remembered as 0)
//   p <- p - sign(g) * step_size;  prev <- g
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace rprop {
constexpr FamilySpec kSpec =
    make_spec("rprop", {inout("params"), in("grads"), inout("prevs"), inout("step_sizes")},
              {"etaminus", "etaplus", "step_size_min", "step_size_max"}, {"maximize"});
constexpr int ETAMINUS = kSpec.scalar("etaminus"), ETAPLUS = kSpec.scalar("etaplus"),
              STEP_SIZE_MIN = kSpec.scalar("step_size_min"),
              STEP_SIZE_MAX = kSpec.scalar("step_size_max");
}  // namespace rprop
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, prev, step_size.
template <typename T, std::uint32_t F>
struct RpropRule {
  static constexpr const FamilySpec* kSpec = &rprop::kSpec;
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0xFu;
  static constexpr unsigned kWrite = 0xDu;
  GradPrelude<T, has(F, kSpec->flag("maximize")), false> prelude;
  T etaminus, etaplus, lo, hi;

  explicit RpropRule(const Hyper& h)
      : prelude(0.0, 0.0),
        etaminus(static_cast<T>(h.s[rprop::ETAMINUS])),
        etaplus(static_cast<T>(h.s[rprop::ETAPLUS])),
        lo(static_cast<T>(h.s[rprop::STEP_SIZE_MIN])),
        hi(static_cast<T>(h.s[rprop::STEP_SIZE_MAX])) {}

  FO_HD void operator()(T* x) const {
    T p = x[0];
    const T g = prelude(x[1], p);
    const T prod = g * x[2];
    // NaN products keep NaN, as torch's masked assignments leave them.
    T eta = prod == T(0) ? T(1) : prod;
    eta = prod > T(0) ? etaplus : eta;
    eta = prod < T(0) ? etaminus : eta;
    const T s = clamp_nan(x[3] * eta, lo, hi);
    const T gz = (eta == etaminus) ? T(0) : g;
    x[3] = s;
    x[2] = gz;
    x[0] = p + T(-1) * sign(gz) * s;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
