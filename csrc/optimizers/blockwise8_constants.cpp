// The 8-bit blockwise optimizers' per-step float32 scalars (optimizers/blockwise8.h), for
// the host kernels (blockwise8_run.cpp) and the CUDA ones (cuda/blockwise8_device.h)
// alike. Compiled with -ffp-contract=off: each double expression is evaluated as the
// reference's Python one, every op rounded on its own.
#include <cmath>

#include "optimizers/blockwise8_run.h"

namespace fusedoptim {
namespace {
float f(double x) { return static_cast<float>(x); }
}  // namespace

// Written as the reference's Python expressions, evaluated left to right in double.
Q8Const blockwise8_constants(const Q8Step& s) {
  Q8Const k{};
  const double lr = s.lr, wd = s.weight_decay;
  const double c1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double c2 = std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step)));
  k.b1 = f(s.beta1);
  k.omb1 = f(1.0 - s.beta1);
  k.b2 = f(s.beta2);
  k.omb2 = f(1.0 - s.beta2);
  k.c2 = f(c2);
  k.eps = f(s.eps);
  k.lr_c1 = f(-lr / c1);
  k.eps_c2 = f(s.eps * c2);
  k.step_size = f(-lr * c2 / c1);
  k.decay = f(1.0 - lr * wd);
  k.wd = f(wd);
  k.momentum = f(s.momentum);
  k.neg_lr = f(-lr);
  k.use_decay = wd > 0.0;
  k.first = s.step == 1;
  return k;
}

}  // namespace fusedoptim
