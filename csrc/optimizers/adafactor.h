// Adafactor (Shazeer & Stern 2018), torch.optim.Adafactor's arithmetic. Not elementwise:
// a param of 2 or more dimensions keeps row and column means of g^2 over its last two
// axes (row_var, col_var), a vector or 0-d param a full variance, and each tensor's step
// is scaled by two of its norms. Per tensor, with t the step count:
//   w = t^beta2_decay,  rho = min(lr, 1/sqrt(t)),  alpha = max(eps2, ||p|| / sqrt(numel)) rho
//   p <- p (1 - lr wd)
//   matrix: R <- lerp(R, mean_j g^2, w), C <- lerp(C, mean_i g^2, w),
//           V = R C / max(mean_i R, eps1)          (per batch of the leading dims)
//   vector: V <- lerp(V, g^2, w)
//   u = g / sqrt(max(V, eps1^2)) (rsqrt, then times g),  p <- p - alpha / max(1, RMS(u)/d) u
// The step runs in passes (optimizers/adafactor_run.cpp); the kernels below are the
// per-unit bodies of those passes, compiled once per ISA (isa/adafactor_*.cpp).
#pragma once
#include <cstddef>

#include "optimizers/spec.h"

namespace fusedoptim {
namespace adafactor {
// A spec only: the work an Adafactor call hands to the checks names its params and grads
// (the state arrays have other shapes, checked by the Adafactor binding). eps1 < 0 means
// "the param dtype's machine epsilon" (torch's eps=(None, ...)).
constexpr FamilySpec kSpec = make_spec("adafactor", {inout("params"), in("grads")},
                                       {"lr", "one_minus_beta2", "rho", "eps1", "eps2", "d",
                                        "weight_decay"},
                                       {"maximize"});
constexpr int LR = kSpec.scalar("lr"), ONE_MINUS_BETA2 = kSpec.scalar("one_minus_beta2"),
              RHO = kSpec.scalar("rho"), EPS1 = kSpec.scalar("eps1"), EPS2 = kSpec.scalar("eps2"),
              D = kSpec.scalar("d"), WEIGHT_DECAY = kSpec.scalar("weight_decay");
}  // namespace adafactor

// Scalars one unit needs, in the unit's dtype where the formula rounds to it.
template <typename T>
struct AfConst {
  T w, one_minus_w;  // lerp weight t^beta2_decay and 1 - it (torch computes both in T)
  bool low;          // |w| < 0.5: torch.lerp's first branch
  T eps1, eps1_sq;   // clamp of the row mean, clamp of the variance estimate
};

// A run of whole matrices (batches) of one tensor: m x n each, `count` of them.
template <typename T>
struct AfBatches {
  T* p;
  const T* g;
  T* row;  // count * m
  T* col;  // count * n
  std::size_t count, m, n;
};

// Rows [0, rows) of one matrix of a tensor (the pointers start at its first row).
template <typename T>
struct AfRows {
  T* p;
  const T* g;
  T* row;        // rows entries
  const T* col;  // n entries (pass 2 and 3)
  double* col_partial;  // n entries (pass 1)
  std::size_t rows, n;
  T row_mean;    // max(mean_i R, eps1), computed once per matrix (passes 2 and 3)
};

// A run of a vector (or 0-d) tensor.
template <typename T>
struct AfFlat {
  T* p;
  const T* g;
  T* var;
  std::size_t n;
};

// Sums a pass returns per unit: ||p||^2 and ||u||^2 of the unit's elements.
struct AfSums {
  double p_sq, u_sq;
};

template <typename T>
struct AfKernelsT {
  // Pass 1 of whole small matrices: R, C updated, ||p||^2 and ||u||^2.
  AfSums (*batches_pass1)(const AfBatches<T>&, const AfConst<T>&);
  // Pass 3 of whole small matrices: p <- p decay + scale u.
  void (*batches_pass3)(const AfBatches<T>&, const AfConst<T>&, T decay, T scale);
  // Pass 1 of a row block of a large matrix: R updated, column sums of g^2 into
  // col_partial, ||p||^2.
  double (*rows_pass1)(const AfRows<T>&, const AfConst<T>&);
  // Pass 2: ||u||^2 of the block.
  double (*rows_pass2)(const AfRows<T>&, const AfConst<T>&);
  void (*rows_pass3)(const AfRows<T>&, const AfConst<T>&, T decay, T scale);
  AfSums (*flat_pass1)(const AfFlat<T>&, const AfConst<T>&);
  void (*flat_pass3)(const AfFlat<T>&, const AfConst<T>&, T decay, T scale);
  // Between passes 1 and 2 of a large matrix: its column sums (the `units` partials of n
  // values, added in their order) into C, and max(mean_i R, eps1).
  void (*col_finish)(const double* partials, std::size_t units, std::size_t n, std::size_t m,
                     T* col, const AfConst<T>&);
  T (*row_mean)(const T* row, std::size_t m, T eps1);
};

struct AdafactorKernels {
  AfKernelsT<float> f32;
  AfKernelsT<double> f64;
};

}  // namespace fusedoptim
