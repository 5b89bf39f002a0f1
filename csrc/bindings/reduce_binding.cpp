// reduce(kind, arrays, scalar, names): one multi-tensor reduction over a list of
// arrays (float32 and float64 may mix), deterministic for any thread count.
#include <pybind11/pybind11.h>

#include <cmath>

#include "bindings/bindings.h"
#include "bindings/work_parse.h"
#include "engine/dispatch.h"
#include "engine/parallel.h"

namespace fusedoptim {

void bind_reduce(py::module_& m) {
  py::enum_<Reduction>(m, "Reduction")
      .value("SUM_SQUARES", kSumSquares)
      .value("MAX_ABS", kMaxAbs)
      .value("SUM_POW", kSumPow)
      .value("FINITE_PROBE", kFiniteProbe)
      .value("DOT", kDotProduct);
  m.def(
      "reduce",
      [](Reduction kind, const py::list& arrays, double scalar, const py::object& names,
         const py::object& others) {
        Parsed p = parse_all(reduction_works(kind, arrays, scalar, names, others));
        const KernelTable& table = active_table();
        for (Launch& l : p.launches) {
          l.reduce = l.mixed || l.elem_size == 4 ? table.r32[kind] : table.r64[kind];
          l.reduce_kind = kind;
          if (l.mixed) bind_conversions(l);  // 16-bit arrays: converted tile by tile
        }
        const int threads = get_num_threads();
        std::vector<double> partial;
        {
          py::gil_scoped_release release;
          partial = multi_tensor_reduce(p.launches, threads);
        }
        return combine_partials(kind, partial.data(), partial.size());
      },
      py::arg("kind"), py::arg("arrays"), py::arg("scalar") = 1.0, py::arg("names") = py::none(),
      py::arg("others") = py::none(),
      "Sum of squares (times scalar^2), max |x|, sum |x|^scalar, a finiteness probe "
      "(0 if all finite, else NaN) over every element of every array, or the dot product "
      "of arrays with others.");
}

}  // namespace fusedoptim
