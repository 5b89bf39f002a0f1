// softmax_xent(logits, targets, grad_scale) -> (loss_sum, dlogits). The Python layer
// (fusedoptim.losses) checks shapes, dtypes and label ranges and makes the inputs
// C-contiguous; this layer re-checks what it relies on.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "engine/parallel.h"
#include "losses/cross_entropy.h"

namespace fusedoptim {
namespace {

template <typename T>
py::tuple run(const py::array& logits, const py::array& targets, double grad_scale) {
  const std::size_t rows = logits.shape(0), classes = logits.shape(1);
  py::array_t<T> grad({logits.shape(0), logits.shape(1)});
  const T* z = static_cast<const T*>(logits.data());
  T* g = grad.mutable_data();
  const int threads = get_num_threads();
  double loss;
  if (targets.ndim() == 1) {
    const auto* y = static_cast<const std::int64_t*>(targets.data());
    py::gil_scoped_release release;
    loss = softmax_xent_labels<T>(z, y, g, rows, classes, grad_scale, threads);
  } else {
    const T* y = static_cast<const T*>(targets.data());
    py::gil_scoped_release release;
    loss = softmax_xent_probs<T>(z, y, g, rows, classes, grad_scale, threads);
  }
  return py::make_tuple(loss, grad);
}

}  // namespace

void bind_losses(py::module_& m) {
  m.def(
      "softmax_xent",
      [](const py::array& logits, const py::array& targets, double grad_scale) {
        const Label lz{"logits", nullptr, Label::kWhole}, ly{"targets", nullptr, Label::kWhole};
        const ArrayView vz = numpy_view(logits), vy = numpy_view(targets);
        const DType dt = float_dtype(vz, lz);
        check_layout(vz, lz, false, kHostArrays);
        check_layout(vy, ly, false, kHostArrays);
        if (logits.ndim() != 2) throw py::value_error("logits: expected shape (N, C)");
        const bool labels = targets.ndim() == 1;
        if (labels) {
          if (targets.dtype().kind() != 'i' || targets.itemsize() != 8)
            throw py::type_error("targets: labels must be int64 here");
          if (targets.shape(0) != logits.shape(0)) throw py::value_error("targets: wrong length");
        } else {
          check_matches(vy, ly, vz, dt);
        }
        return dt == DType::F32 ? run<float>(logits, targets, grad_scale)
                                : run<double>(logits, targets, grad_scale);
      },
      py::arg("logits"), py::arg("targets"), py::arg("grad_scale"),
      "Sum over rows of the softmax cross-entropy, and its gradient times grad_scale.");
}

}  // namespace fusedoptim
