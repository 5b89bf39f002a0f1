// Parsing and checking of works, the unit the Python layer hands to the kernels.
//
// A work is a tuple (family, flags, scalars, operands, names):
//   family   int, an index of enum Family (optimizers/kernel_spec.h)
//   flags    int, the family's flag bits
//   scalars  sequence of float, the family's per-step scalars in table order
//   operands sequence of lists of arrays (params, grads, state buffers...), in
//            table order; an operand the flags do not use may be None
//   names    None or a list of str, how tensor i is called in messages
//   masters  (optional) None or per param None or its float32 master copy
//   rounding (optional) None or (seed, tensors, steps): the 16-bit values written are
//            rounded stochastically (engine/half_convert.h) from rounding_key(seed,
//            steps[i], tensors[i], operand) for param i
// A Plan made from works with rounding advances every step by one on each run.
// parse_all checks every work completely (types, dtypes, shapes, layout, memory
// overlap between everything written and everything read) and changes nothing.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "engine/multi_tensor.h"

namespace fusedoptim {
namespace py = pybind11;

struct Range {
  std::uintptr_t lo, hi;
  Label what;
};

// Where one tensor of one work ended up.
struct TensorRef {
  int launch;     // index into Parsed::launches
  int slot;       // index into that launch's tensors
  PyObject* param;
};

struct Parsed {
  static constexpr int kNoArrays = -2;
  int device = kNoArrays;  // of every array: -1 (host) or a CUDA device ordinal
  std::vector<Launch> launches;
  std::vector<Range> written, read;  // written sorted by address after check_overlaps
  std::vector<TensorRef> tensors;    // every tensor of every work, in work order
  std::vector<int> work_begin;       // tensors of work w: [work_begin[w], work_begin[w+1])
  std::vector<std::vector<int>> work_launches;  // the launches of each work
  // Every array the launches point at is referenced here, so it outlives the kernels
  // that run with the GIL released, whatever other threads do to the lists it came from.
  std::vector<py::object> written_arrays;  // kept alive and re-checked by a Plan
  // Read-only arrays other than the grads: a Plan keeps them alive, since it reads them
  // on every run.
  std::vector<py::object> other_reads;
  // The grads (operand 1): held for one call; a Plan drops them and takes new ones on
  // each run.
  std::vector<py::object> grads;
  // Per work; Labels point into it. A deque: appending never moves the earlier names,
  // so any number of works fits.
  std::deque<py::object> names;
};

Parsed parse_all(const py::list& works, const ArrayKind& kind = kHostArrays);
// The one work of reduction `kind` (enum Reduction) over `arrays` (and `others`, the
// second list of a dot product).
py::list reduction_works(int kind, const py::list& arrays, double scalar, const py::object& names,
                         const py::object& others);
// A reduction's per-chunk partials combined in their order: the largest for kMaxAbs
// (NaN if any is NaN), else their sum.
double combine_partials(int kind, const double* partial, std::size_t n);
// Throws unless every work is an update the apply engine runs (not a reduction): one
// that also sums (FamilySpec::n_sums > 0) for apply_sums (`sums`), a plain one otherwise.
void check_appliable(const Parsed& p, bool sums = false);
// Arrays an optimizer will update in place: float32/float64, C-contiguous, writeable,
// on one device, each on its own memory.
void check_params(const py::sequence& arrays, const py::object& names, const ArrayKind& kind);
// Everything written must be disjoint from everything else written or read.
void check_overlaps(Parsed& p);
// Throws if [lo, hi) overlaps a written range of p (sorted by check_overlaps).
void check_read_range(const Parsed& p, std::uintptr_t lo, std::uintptr_t hi, const Label& what);

}  // namespace fusedoptim
