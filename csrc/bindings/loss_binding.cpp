// softmax_xent(logits, targets, grad_scale) -> (loss_sum, dlogits). The Python layer
// (fusedoptim.losses) checks shapes, dtypes and label ranges and makes the inputs
// C-contiguous; this layer re-checks everything the kernel relies on (a label out of
// [0, C) would index past its row), so no argument can make it read or write out of
// bounds.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "engine/parallel.h"
#include "losses/cross_entropy.h"

namespace fusedoptim {
namespace {

template <typename T>
py::tuple run(const ArrayView& logits, const ArrayView& targets,
              const std::vector<std::int64_t>& labels, double grad_scale) {
  const std::size_t rows = logits.shape[0], classes = logits.shape[1];
  py::array_t<T> grad({logits.shape[0], logits.shape[1]});
  const T* z = static_cast<const T*>(logits.data);
  T* g = grad.mutable_data();
  const int threads = get_num_threads();
  double loss;
  if (targets.ndim == 1) {
    const std::int64_t* y = labels.data();
    py::gil_scoped_release release;
    loss = softmax_xent_labels<T>(z, y, g, rows, classes, grad_scale, threads);
  } else {
    const T* y = static_cast<const T*>(targets.data);
    py::gil_scoped_release release;
    loss = softmax_xent_probs<T>(z, y, g, rows, classes, grad_scale, threads);
  }
  return py::make_tuple(loss, grad);
}

// Labels: int64 in native byte order, one per row, each in [0, classes). Returns a copy:
// the kernel runs without the GIL, and another thread could change the array after
// the check.
std::vector<std::int64_t> checked_labels(const ArrayView& y, const Label& what, py::ssize_t rows,
                                         py::ssize_t classes) {
  if (y.kind != 'i' || y.itemsize != 8 || !y.native_order)
    throw py::type_error(what.str() + ": labels must be int64 (native byte order), got " +
                         dtype_str(y));
  if (y.shape[0] != rows)
    throw py::value_error(what.str() + ": " + std::to_string(y.shape[0]) + " labels for " +
                          std::to_string(rows) + " rows of logits");
  const auto* src = static_cast<const std::int64_t*>(y.data);
  std::vector<std::int64_t> labels(src, src + rows);
  for (py::ssize_t i = 0; i < rows; ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      throw py::value_error(what.str() + ": label " + std::to_string(labels[i]) + " at index " +
                            std::to_string(i) + " is out of range [0, " + std::to_string(classes) +
                            ")");
  return labels;
}

}  // namespace

void bind_losses(py::module_& m) {
  m.def(
      "softmax_xent",
      [](const py::object& logits, const py::object& targets, double grad_scale) {
        const Label lz{"logits", nullptr, Label::kWhole}, ly{"targets", nullptr, Label::kWhole};
        // NumPy arrays only: nothing is converted (a list would become a temporary).
        const ArrayView vz = kHostArrays.view(logits, lz), vy = kHostArrays.view(targets, ly);
        const DType dt = float_dtype(vz, lz);
        if (vz.ndim != 2)
          throw py::value_error("logits: expected shape (N, C), got " + shape_str(vz));
        check_layout(vz, lz, false, kHostArrays);
        check_layout(vy, ly, false, kHostArrays);
        std::vector<std::int64_t> labels;
        if (vy.ndim == 1)
          labels = checked_labels(vy, ly, vz.shape[0], vz.shape[1]);
        else if (vy.ndim == 2)
          check_matches(vy, ly, vz, dt);
        else
          throw py::value_error("targets: expected labels (N,) or probabilities (N, C), got shape " +
                                shape_str(vy));
        return dt == DType::F32 ? run<float>(vz, vy, labels, grad_scale)
                                : run<double>(vz, vy, labels, grad_scale);
      },
      py::arg("logits"), py::arg("targets"), py::arg("grad_scale"),
      "Sum over rows of the softmax cross-entropy, and its gradient times grad_scale.");
}

}  // namespace fusedoptim
