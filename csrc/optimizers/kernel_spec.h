// What each optimizer family's kernel takes: its operands (arrays), its per-step
// scalars and its flag bits. The Python layer reads this table through
// fusedoptim._native.kernel_specs(), so the order is defined in one place.
#pragma once
#include <cstdint>

namespace fusedoptim {

constexpr int kMaxOperands = 6;
constexpr int kMaxScalars = 10;

// Per-step scalars, computed once per step on the host in double precision.
struct Hyper {
  double s[kMaxScalars];
  std::uint32_t flags;
};

// kTraffic and kTriad are no optimizers: the benchmark's roofline kernels. kScale and
// kClamp are the in-place halves of gradient clipping; kReduce is the family of the
// multi-tensor reductions (norms, finiteness), whose kernels live in ReduceTable.
enum Family : int {
  kSGD = 0, kAdagrad, kRMSprop, kAdam, kRprop, kTraffic, kTriad, kScale, kClamp,
  kAxpy, kCopy, kDiagNewton, kNumFamilies,
  kReduce = kNumFamilies,  // one read-only list (norms, finiteness)
  kDot                     // two read-only lists
};
constexpr int kNumSpecs = kNumFamilies + 2;

struct OperandSpec {
  const char* name;        // name of the list argument, e.g. "exp_avgs"
  bool written;            // updated in place by the kernel
  std::uint32_t needs;     // flag bits under which the operand is used (0: always)
};

struct FamilySpec {
  const char* name;
  int n_operands;
  OperandSpec operands[kMaxOperands];
  int n_scalars;
  const char* scalars[kMaxScalars];
  int n_flags;
  const char* flags[8];  // flag i is bit (1 << i)
};

const FamilySpec& family_spec(int family);

// Scalar indices and flag bits, one namespace per family (same order as the table).
namespace sgd {
enum Scalar { LR, MOMENTUM, DAMPENING, WEIGHT_DECAY };
enum Flag : std::uint32_t { MAXIMIZE = 1, WD = 2, USE_MOMENTUM = 4, FIRST_STEP = 8, NESTEROV = 16 };
}  // namespace sgd
namespace adagrad {
enum Scalar { CLR, WEIGHT_DECAY, EPS };
enum Flag : std::uint32_t { MAXIMIZE = 1, WD = 2 };
}  // namespace adagrad
namespace rmsprop {
enum Scalar { LR, ALPHA, EPS, WEIGHT_DECAY, MOMENTUM };
enum Flag : std::uint32_t { MAXIMIZE = 1, WD = 2, USE_MOMENTUM = 4, CENTERED = 8 };
}  // namespace rmsprop
namespace adam {
enum Scalar { LR, BETA1, BETA2, EPS, WEIGHT_DECAY, STEP_SIZE, BIAS_CORRECTION2_SQRT };
enum Flag : std::uint32_t { MAXIMIZE = 1, WD = 2, DECOUPLED = 4, AMSGRAD = 8 };
}  // namespace adam
namespace rprop {
enum Scalar { ETAMINUS, ETAPLUS, STEP_SIZE_MIN, STEP_SIZE_MAX };
enum Flag : std::uint32_t { MAXIMIZE = 1 };
}  // namespace rprop
namespace traffic {
enum Scalar { SCALE };
enum Flag : std::uint32_t { STATE1 = 1, STATE2 = 2, STATE3 = 4 };
}  // namespace traffic
namespace triad {
enum Scalar { SCALE };
}  // namespace triad
namespace scale {
enum Scalar { FACTOR };
}  // namespace scale
namespace clamp {
enum Scalar { LIMIT };
}  // namespace clamp
namespace axpy {
enum Scalar { ALPHA };
}  // namespace axpy
namespace diag_newton {
enum Scalar { LR, MIN_CURVATURE };
}  // namespace diag_newton

// Reductions over all elements of a list of arrays, each computed per chunk and
// combined in chunk order, so the result does not depend on the thread count.
enum Reduction : int { kSumSquares = 0, kMaxAbs, kSumPow, kFiniteProbe, kDotProduct, kNumReductions };

}  // namespace fusedoptim
