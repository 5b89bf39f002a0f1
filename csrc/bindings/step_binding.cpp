// run(works) / validate(works) / check_params(arrays): the general native entry of
// an optimizer step (see work_parse.h for what a work is).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "bindings/plan_common.h"
#include "bindings/work_parse.h"
#include "engine/dispatch.h"
#include "engine/parallel.h"

namespace fusedoptim {

void bind_step(py::module_& m) {
  m.def(
      "run",
      [](const py::list& works, double grad_scale) {
        Parsed p = parse_all(works);
        check_appliable(p);
        set_grad_scale(p, grad_scale);
        bind_cpu_kernels(p.launches);
        const int threads = get_num_threads();
        py::gil_scoped_release release;
        multi_tensor_apply(p.launches, threads);
      },
      py::arg("works"), py::arg("grad_scale") = 1.0,
      "Check every work completely, then apply all of them in one multi-tensor pass. "
      "grad_scale: the factor the grads were multiplied by; the kernels divide by it.");
  m.def(
      "apply_sums",
      [](const py::list& works) {
        Parsed p = parse_all(works);
        check_appliable(p, true);
        bind_cpu_kernels(p.launches);  // the conversions of 16-bit operands
        const KernelTable& table = active_table();
        for (Launch& l : p.launches)
          l.sums = l.mixed || l.elem_size == 4 ? table.s32[l.family] : table.s64[l.family];
        const int threads = get_num_threads();
        std::vector<double> sums;
        {
          py::gil_scoped_release release;
          sums = multi_tensor_apply_sums(p.launches, threads);
        }
        // Per launch, where its tensors start in `sums`; the result is in work order.
        std::vector<std::size_t> first(p.launches.size() + 1, 0);
        for (std::size_t l = 0; l < p.launches.size(); ++l)
          first[l + 1] = first[l] + p.launches[l].tensors.size();
        py::array_t<double> out({static_cast<py::ssize_t>(p.tensors.size()),
                                 static_cast<py::ssize_t>(kMaxSums)});
        double* o = out.mutable_data();
        for (std::size_t t = 0; t < p.tensors.size(); ++t) {
          const std::size_t at = first[p.tensors[t].launch] + p.tensors[t].slot;
          for (int k = 0; k < kMaxSums; ++k) o[t * kMaxSums + k] = sums[at * kMaxSums + k];
        }
        return out;
      },
      py::arg("works"),
      "Check every work completely, then apply all of them in one multi-tensor pass and "
      "return each tensor's sums of squares (float64, shape (tensors, 2), in work order) "
      "for families whose update also sums (LAMB's moments, LARS's norms).");
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
