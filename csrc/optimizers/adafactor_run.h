// Adafactor's step over a list of tensors (float32 and float64 may mix): the passes,
// their work units and threads. Formula: optimizers/adafactor.h.
#pragma once
#include <cstddef>
#include <vector>

namespace fusedoptim {

struct AfTensor {
  std::size_t elem_size;  // 4 or 8
  void* p;
  const void* g;
  void* row;  // matrices: batches * m values (row_var)
  void* col;  // matrices: batches * n values (col_var)
  void* var;  // vectors and 0-d: numel values (variance)
  std::size_t numel;
  bool matrix;            // >= 2 dims: factored over its last two axes
  std::size_t batches, m, n;  // matrices: the leading dims' product, shape[-2], shape[-1]
};

struct AfStep {
  double lr, one_minus_beta2, rho, eps1, eps2, d, weight_decay;  // eps1 < 0: the dtype's eps
  bool maximize;
};

// The step: pass 1 reads p and g (R, C and V updated; ||p||^2, and ||u||^2 of whatever
// fits in cache), pass 2 reads g of large matrices (||u||^2), pass 3 writes p. Work
// units are cut from the shapes alone and every sum is combined in unit order, so the
// result is the same, bit for bit, for any thread count.
void adafactor_run(const std::vector<AfTensor>& tensors, const AfStep& step, int num_threads);

}  // namespace fusedoptim
