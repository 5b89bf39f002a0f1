// Adagrad (torch.optim.Adagrad); clr = lr / (1 + (step - 1) * lr_decay) comes from the host:
//   g <- (maximize ? -g : g) + weight_decay * p
//   sum <- sum + g * g
//   p <- p - clr * g / (sqrt(sum) + eps)
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, sum.
template <typename T, bool MAXIMIZE, bool WD>
struct AdagradRule {
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x7u;
  static constexpr unsigned kWrite = 0x5u;
  T neg_clr, wd, eps;

  explicit AdagradRule(const Hyper& h)
      : neg_clr(static_cast<T>(-h.s[adagrad::CLR])),
        wd(static_cast<T>(h.s[adagrad::WEIGHT_DECAY])),
        eps(static_cast<T>(h.s[adagrad::EPS])) {}

  FO_HD void operator()(T* x) const {
    T g = MAXIMIZE ? -x[1] : x[1];
    const T p = x[0];
    if (WD) g = g + wd * p;
    const T s = x[2] + g * g;
    x[2] = s;
    x[0] = p + neg_clr * g / (fo_sqrt(s) + eps);
  }
};

struct AdagradFamily {
  template <typename T, typename F>
  static void with_rule(std::uint32_t f, F&& fn) {
    dispatch_bools(
        [&](auto mx, auto wd) {
          fn(RuleTag<AdagradRule<T, decltype(mx)::value, decltype(wd)::value>>{});
        },
        bool(f & adagrad::MAXIMIZE), bool(f & adagrad::WD));
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
