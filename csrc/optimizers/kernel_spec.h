// The kernel families and what each takes, by id. Each family's spec (operands,
// per-step scalars, flag bits) is written once in its header; the list of families is
// optimizers/family_list.h. The Python layer reads this table through
// fusedoptim._native.kernel_specs().
#pragma once
#include <cstdint>

#include "optimizers/family_list.h"
#include "optimizers/spec.h"

namespace fusedoptim {

// One id per row of the kernel list, in its order. kReduce is the family of the
// multi-tensor reductions (norms, finiteness) and kDot of the dot products, whose
// kernels live in ReduceTable.
#define FO_FAMILY_ENUM(ns, Rule) kFamily_##ns,
enum Family : int {
  FO_FAMILIES(FO_FAMILY_ENUM) kNumFamilies,
  kReduce = kNumFamilies,  // one read-only list (norms, finiteness)
  kDot,                    // two read-only lists
  kAdafactor               // Adafactor's multi-pass step (its own binding; spec only)
};
#undef FO_FAMILY_ENUM
constexpr int kNumSpecs = kNumFamilies + 3;

const FamilySpec& family_spec(int family);

// Reductions over all elements of a list of arrays, each computed per chunk and
// combined in chunk order, so the result does not depend on the thread count.
enum Reduction : int { kSumSquares = 0, kMaxAbs, kSumPow, kFiniteProbe, kDotProduct, kNumReductions };

}  // namespace fusedoptim
