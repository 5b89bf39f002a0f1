// SGD with momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD):
//   g <- (maximize ? -g : g) + weight_decay * p
//   b <- g on the first step, else momentum * b + (1 - dampening) * g
//   g <- g + momentum * b (nesterov) or b
//   p <- p - lr * g
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, momentum buffer (read unless on the first step; untouched without momentum).
template <typename T, bool MAXIMIZE, bool WD, bool MOM, bool FIRST, bool NESTEROV>
struct SgdRule {
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = MOM && !FIRST ? 0x7u : 0x3u;
  static constexpr unsigned kWrite = MOM ? 0x5u : 0x1u;
  T neg_lr, momentum, one_minus_dampening, wd;

  explicit SgdRule(const Hyper& h)
      : neg_lr(static_cast<T>(-h.s[sgd::LR])),
        momentum(static_cast<T>(h.s[sgd::MOMENTUM])),
        one_minus_dampening(static_cast<T>(1.0 - h.s[sgd::DAMPENING])),
        wd(static_cast<T>(h.s[sgd::WEIGHT_DECAY])) {}

  FO_HD void operator()(T* x) const {
    T g = MAXIMIZE ? -x[1] : x[1];
    const T p = x[0];
    if (WD) g = g + wd * p;
    if (MOM) {
      const T b = FIRST ? g : x[2] * momentum + one_minus_dampening * g;
      x[2] = b;
      g = NESTEROV ? g + momentum * b : b;
    }
    x[0] = p + neg_lr * g;
  }
};

struct SgdFamily {
  template <typename T, typename F>
  static void with_rule(std::uint32_t f, F&& fn) {
    dispatch_bools(
        [&](auto mx, auto wd, auto mom, auto first, auto nest) {
          fn(RuleTag<SgdRule<T, decltype(mx)::value, decltype(wd)::value, decltype(mom)::value,
                             decltype(first)::value, decltype(nest)::value>>{});
        },
        bool(f & sgd::MAXIMIZE), bool(f & sgd::WD), bool(f & sgd::USE_MOMENTUM),
        bool(f & sgd::FIRST_STEP), bool(f & sgd::NESTEROV));
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
