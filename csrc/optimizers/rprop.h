// Rprop (torch.optim.Rprop), per element:
//   g <- maximize ? -g : g;  s <- sign(g * prev)
//   eta <- etaplus (s > 0), etaminus (s < 0), 1 (s == 0)
//   step_size <- clamp(step_size * eta, step_size_min, step_size_max)
//   g <- 0 where eta == etaminus  (after a sign flip the step is skipped and remembered as 0)
//   p <- p - sign(g) * step_size;  prev <- g
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, prev, step_size.
template <typename T, bool MAXIMIZE>
struct RpropRule {
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0xFu;
  static constexpr unsigned kWrite = 0xDu;
  T etaminus, etaplus, lo, hi;

  explicit RpropRule(const Hyper& h)
      : etaminus(static_cast<T>(h.s[rprop::ETAMINUS])),
        etaplus(static_cast<T>(h.s[rprop::ETAPLUS])),
        lo(static_cast<T>(h.s[rprop::STEP_SIZE_MIN])),
        hi(static_cast<T>(h.s[rprop::STEP_SIZE_MAX])) {}

  FO_HD void operator()(T* x) const {
    const T g = MAXIMIZE ? -x[1] : x[1];
    const T prod = g * x[2];
    // NaN products keep NaN, as torch's masked assignments leave them.
    T eta = prod == T(0) ? T(1) : prod;
    eta = prod > T(0) ? etaplus : eta;
    eta = prod < T(0) ? etaminus : eta;
    const T s = clamp_nan(x[3] * eta, lo, hi);
    const T gz = (eta == etaminus) ? T(0) : g;
    x[3] = s;
    x[2] = gz;
    x[0] = x[0] + T(-1) * sign(gz) * s;
  }
};

struct RpropFamily {
  template <typename T, typename F>
  static void with_rule(std::uint32_t f, F&& fn) {
    dispatch_bools([&](auto mx) { fn(RuleTag<RpropRule<T, decltype(mx)::value>>{}); },
                   bool(f & rprop::MAXIMIZE));
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
