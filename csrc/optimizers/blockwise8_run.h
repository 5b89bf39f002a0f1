// The 8-bit blockwise optimizers' step over a list of tensors (8-bit and float32 moments
// may mix): host scalars, quantizer tables, work units and threads. Formulas:
// optimizers/blockwise8.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "optimizers/blockwise8.h"

namespace fusedoptim {

// One param and its moments. q8: s1 (s2) are uint8 codes and a1 (a2) their absmax
// (ceil(numel / 256) values); else s1 (s2) are float32 and a1, a2 null.
struct Q8Tensor {
  float* p;
  const float* g;
  void* s1;
  void* s2;  // adam only
  float* a1;
  float* a2;  // adam only
  std::size_t numel;
  bool q8;
};

// The keyword arguments of one step, as Python gives them.
struct Q8Step {
  Q8Kind kind;
  double lr, beta1, beta2, eps, weight_decay, momentum;
  long long step;
};

// The float32 scalars of a step, computed as the reference does: Python doubles first,
// each cast once to float32.
Q8Const blockwise8_constants(const Q8Step& s);

// Whether the avx512 path runs the byte-permute kernels (isa/blockwise8_avx512vbmi.cpp):
// the CPU has AVX-512 VBMI and BW, and FUSEDOPTIM_NO_VBMI is unset, empty or "0" (tests
// set it to run the gather kernels of isa/blockwise8_avx512.cpp on such a CPU). Read once.
bool blockwise8_vbmi();
// The kernels the 8-bit optimizers run now: "avx512vbmi" or the active ISA's name.
const char* blockwise8_path();

// The step. Work units are whole blocks (or runs of float32 moments) cut from the
// shapes alone and independent, so the result is the same, bit for bit, for any thread
// count. qmap2 is read for adam only; qmaps may be null when no tensor is 8-bit.
void blockwise8_run(const std::vector<Q8Tensor>& tensors, const Q8Step& step, const float* qmap1,
                    const float* qmap2, int num_threads);

}  // namespace fusedoptim
