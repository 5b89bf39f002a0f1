// blockwise8_check / blockwise8_step, written once for host (NumPy) and CUDA device arrays:
// bindings/blockwise8_binding.cpp (fusedoptim._core) and bindings/device_blockwise8.cpp
// (fusedoptim._cuda, _cuda_emulator) define them with def_blockwise8, and differ only in
// their ArrayKind and where the step runs.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/work_parse.h"
#include "optimizers/blockwise8_run.h"

// The Python arguments of blockwise8_check, then those blockwise8_step adds.
#define FO_Q8_ARRAY_ARGS                                                                  \
  py::arg("kind"), py::arg("params"), py::arg("grads"), py::arg("state1s"),               \
      py::arg("state2s"), py::arg("absmax1s"), py::arg("absmax2s"), py::arg("qmap1"),     \
      py::arg("qmap2"), py::arg("names") = py::none()
#define FO_Q8_STEP_ARGS                                                                   \
  py::kw_only(), py::arg("lr"), py::arg("beta1") = 0.0, py::arg("beta2") = 0.0,           \
      py::arg("eps") = 0.0, py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0,     \
      py::arg("step") = 1

namespace fusedoptim {
namespace py = pybind11;

// One checked call: its tensors (raw pointers), maps and the device they are all on
// (-1: the host; kAnyDevice when every array is empty).
struct Q8Call {
  Q8Kind kind = Q8Kind::Adam;
  std::vector<Q8Tensor> tensors;
  const float* qmap1 = nullptr;
  const float* qmap2 = nullptr;
  int device = kAnyDevice;
  Parsed ranges;  // what the step writes and reads (checked for overlaps)
};

// Every array checked (types, dtypes, shapes, layout, one device, no overlap between what
// is written and anything else); changes nothing. `keep` holds every array's view. The
// maps' values (sorted, no NaN) are checked where the host can read them (host arrays);
// the CUDA kernels build their bins from a device map by the host table's own rule.
Q8Call parse_blockwise8(const py::object& kind, const py::object& params, const py::object& grads,
                        const py::object& state1s, const py::object& state2s,
                        const py::object& absmax1s, const py::object& absmax2s,
                        const py::object& qmap1, const py::object& qmap2,
                        const py::object& names, const ArrayKind& arrays,
                        std::vector<ArrayView>& keep);

// A step's scalars, checked before any array is (step an int in [1, 2^62]; momentum != 0
// for kind "momentum").
Q8Step blockwise8_step_args(const py::object& kind, double lr, double beta1, double beta2,
                            double eps, double weight_decay, double momentum,
                            const py::object& step);

// Where a module's 8-bit step runs.
struct Blockwise8Side {
  const ArrayKind* arrays;
  // More checks of a checked call (the emulator's memory), or null.
  void (*check_more)(const Q8Call& call);
  // The step of a checked call; called with the GIL held (it releases it while it runs).
  void (*run)(const Q8Call& call, const Q8Step& step, std::uintptr_t stream);
};

// Defines blockwise8_check and blockwise8_step on m for one side. S: the type of the
// step's trailing stream argument (none for the host module), `extra` its py::arg.
template <typename... S, typename... Extra>
void def_blockwise8(py::module_& m, const Blockwise8Side& side, const char* step_doc,
                    Extra... extra) {
  m.def(
      "blockwise8_check",
      [side](const py::object& kind, const py::object& params, const py::object& grads,
             const py::object& state1s, const py::object& state2s, const py::object& absmax1s,
             const py::object& absmax2s, const py::object& qmap1, const py::object& qmap2,
             const py::object& names) {
        std::vector<ArrayView> keep;
        const Q8Call call = parse_blockwise8(kind, params, grads, state1s, state2s, absmax1s,
                                             absmax2s, qmap1, qmap2, names, *side.arrays, keep);
        if (side.check_more) side.check_more(call);
      },
      FO_Q8_ARRAY_ARGS, "Run every check of blockwise8_step and change nothing.");
  m.def(
      "blockwise8_step",
      [side](const py::object& kind, const py::object& params, const py::object& grads,
             const py::object& state1s, const py::object& state2s, const py::object& absmax1s,
             const py::object& absmax2s, const py::object& qmap1, const py::object& qmap2,
             const py::object& names, double lr, double beta1, double beta2, double eps,
             double weight_decay, double momentum, const py::object& step, S... stream) {
        const Q8Step s =
            blockwise8_step_args(kind, lr, beta1, beta2, eps, weight_decay, momentum, step);
        std::vector<ArrayView> keep;  // holds every array while the step runs
        const Q8Call call = parse_blockwise8(kind, params, grads, state1s, state2s, absmax1s,
                                             absmax2s, qmap1, qmap2, names, *side.arrays, keep);
        if (side.check_more) side.check_more(call);
        std::uintptr_t on = 0;
        ((on = static_cast<std::uintptr_t>(stream)), ...);
        side.run(call, s, on);
      },
      FO_Q8_ARRAY_ARGS, FO_Q8_STEP_ARGS, extra..., step_doc);
}

}  // namespace fusedoptim

