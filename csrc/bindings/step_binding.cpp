// run(works) / validate(works) / check_params(arrays): the general native entry of
// an optimizer step (see work_parse.h for what a work is).
#include <pybind11/pybind11.h>

#include "bindings/bindings.h"
#include "bindings/work_parse.h"
#include "engine/dispatch.h"
#include "engine/parallel.h"

namespace fusedoptim {

void bind_step(py::module_& m) {
  m.def(
      "run",
      [](const py::list& works) {
        Parsed p = parse_all(works);
        check_appliable(p);
        bind_cpu_kernels(p.launches);
        const int threads = get_num_threads();
        py::gil_scoped_release release;
        multi_tensor_apply(p.launches, threads);
      },
      py::arg("works"),
      "Check every work completely, then apply all of them in one multi-tensor pass.");
  m.def(
      "validate", [](const py::list& works) { parse_all(works); }, py::arg("works"),
      "Run every check of run() and change nothing.");
  m.def(
      "check_params",
      [](const py::sequence& arrays, const py::object& names) {
        check_names(names, py::len(arrays));
        check_params(arrays, names, kHostArrays);
      },
      py::arg("arrays"), py::arg("names") = py::none(),
      "Check arrays an optimizer will update in place: float32/float64, C-contiguous, "
      "writeable, each on its own memory.");
}

}  // namespace fusedoptim
