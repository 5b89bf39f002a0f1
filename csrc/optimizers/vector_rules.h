// Elementwise in-place vector operations: the halves of gradient clipping and the
// steps of the second-order methods (fusedoptim.clip, fusedoptim.vector).
//   scale:        x <- factor * x
//   clamp:        x <- clamp(x, -limit, limit), NaN kept
//   axpy:         y <- y + alpha * x
//   copy:         dst <- src
//   diag_newton:  p <- p - lr * g / max(|h|, min_curvature): negative curvature is taken
//                 by its magnitude (the step still descends), tiny curvature is floored
//                 (the step stays bounded), NaN curvature stays NaN
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace scale {
constexpr FamilySpec kSpec = make_spec("scale", {inout("grads")}, {"factor"}, {});
constexpr int FACTOR = kSpec.scalar("factor");
}  // namespace scale
namespace clamp {
constexpr FamilySpec kSpec = make_spec("clamp", {inout("grads")}, {"limit"}, {});
constexpr int LIMIT = kSpec.scalar("limit");
}  // namespace clamp
namespace axpy {
constexpr FamilySpec kSpec = make_spec("axpy", {inout("ys"), in("xs")}, {"alpha"}, {});
constexpr int ALPHA = kSpec.scalar("alpha");
}  // namespace axpy
namespace copy {
constexpr FamilySpec kSpec = make_spec("copy", {inout("dst"), in("src")}, {}, {});
}  // namespace copy
namespace diag_newton {
constexpr FamilySpec kSpec = make_spec("diag_newton", {inout("params"), in("grads"), in("hess_diags")},
                                       {"lr", "min_curvature"}, {});
constexpr int LR = kSpec.scalar("lr"), MIN_CURVATURE = kSpec.scalar("min_curvature");
}  // namespace diag_newton
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, std::uint32_t>
struct ScaleRule {
  static constexpr const FamilySpec* kSpec = &scale::kSpec;
  static constexpr int kOperands = 1;
  static constexpr unsigned kRead = 0x1u, kWrite = 0x1u;
  T f;
  explicit ScaleRule(const Hyper& h) : f(static_cast<T>(h.s[scale::FACTOR])) {}
  FO_HD void operator()(T* x) const { x[0] = x[0] * f; }
};

template <typename T, std::uint32_t>
struct ClampRule {
  static constexpr const FamilySpec* kSpec = &clamp::kSpec;
  static constexpr int kOperands = 1;
  static constexpr unsigned kRead = 0x1u, kWrite = 0x1u;
  T lo, hi;
  explicit ClampRule(const Hyper& h)
      : lo(-static_cast<T>(h.s[clamp::LIMIT])), hi(static_cast<T>(h.s[clamp::LIMIT])) {}
  FO_HD void operator()(T* x) const { x[0] = clamp_nan(x[0], lo, hi); }
};

// Operands: y (written), x.
template <typename T, std::uint32_t>
struct AxpyRule {
  static constexpr const FamilySpec* kSpec = &axpy::kSpec;
  static constexpr int kOperands = 2;
  static constexpr unsigned kRead = 0x3u, kWrite = 0x1u;
  T a;
  explicit AxpyRule(const Hyper& h) : a(static_cast<T>(h.s[axpy::ALPHA])) {}
  FO_HD void operator()(T* x) const { x[0] = x[0] + a * x[1]; }
};

// Operands: dst (written), src.
template <typename T, std::uint32_t>
struct CopyRule {
  static constexpr const FamilySpec* kSpec = &copy::kSpec;
  static constexpr int kOperands = 2;
  static constexpr unsigned kRead = 0x2u, kWrite = 0x1u;
  explicit CopyRule(const Hyper&) {}
  FO_HD void operator()(T* x) const { x[0] = x[1]; }
};

// Operands: p (written), g, hess_diag.
template <typename T, std::uint32_t>
struct DiagNewtonRule {
  static constexpr const FamilySpec* kSpec = &diag_newton::kSpec;
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x7u, kWrite = 0x1u;
  T lr, floor;
  explicit DiagNewtonRule(const Hyper& h)
      : lr(static_cast<T>(h.s[diag_newton::LR])),
        floor(static_cast<T>(h.s[diag_newton::MIN_CURVATURE])) {}
  FO_HD void operator()(T* x) const {
    T c = fo_fabs(x[2]);
    c = c < floor ? floor : c;
    x[0] = x[0] - lr * x[1] / c;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
