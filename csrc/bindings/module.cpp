#include <pybind11/pybind11.h>

#include <stdexcept>

#include "bindings/bindings.h"
#include "engine/dispatch.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "fusedoptim's compiled core: fused multi-tensor optimizer kernels.";
  // std::invalid_argument from the engine surfaces as ValueError.
  fusedoptim::init_isa_from_env();
  fusedoptim::bind_info(m);
  fusedoptim::bind_step(m);
  fusedoptim::bind_plan(m);
  fusedoptim::bind_reduce(m);
  fusedoptim::bind_losses(m);
  fusedoptim::bind_adafactor(m);
  fusedoptim::bind_blockwise8(m);
  fusedoptim::bind_copy(m);
}
