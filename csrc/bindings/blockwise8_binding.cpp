// blockwise8_check(...) / blockwise8_step(...) of fusedoptim._core: the 8-bit blockwise
// optimizers (kind "adam", "momentum" or "lion") over NumPy arrays. Every array is checked
// first (bindings/blockwise8_parse.h, shared with the device modules), then the step runs
// with the GIL released (optimizers/blockwise8_run.h).
#include <pybind11/pybind11.h>

#include <cstdint>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "bindings/blockwise8_parse.h"
#include "engine/parallel.h"
#include "optimizers/blockwise8_run.h"

namespace fusedoptim {

void bind_blockwise8(py::module_& m) {
  const Blockwise8Side host{&kHostArrays, nullptr,
                            [](const Q8Call& call, const Q8Step& s, std::uintptr_t) {
                              const int threads = get_num_threads();
                              py::gil_scoped_release release;
                              blockwise8_run(call.tensors, s, call.qmap1, call.qmap2, threads);
                            }};
  def_blockwise8(m, host,
                 "One step of an 8-bit blockwise optimizer (kind 'adam', 'momentum' or 'lion') "
                 "over every array (checked first); per param, state1s[i]'s dtype picks 8-bit "
                 "(uint8) or 32-bit (float32) state.");
}

}  // namespace fusedoptim
