// Parsing and checking of works: see work_parse.h.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/work_parse.h"
#include "engine/multi_tensor.h"

namespace fusedoptim {
namespace {

py::sequence as_list(py::handle h, const std::string& what) {
  if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
    throw py::type_error(what + ": expected a list of arrays, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  return py::reinterpret_borrow<py::sequence>(h);
}

// An int in [0, 2^64) (not a bool), else TypeError / ValueError naming `what`.
std::uint64_t u64_arg(py::handle h, const std::string& what) {
  if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr()))
    throw py::type_error(what + ": expected an int, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  const unsigned long long v = PyLong_AsUnsignedLongLong(h.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(what + ": expected an int in [0, 2**64)");
  }
  return static_cast<std::uint64_t>(v);
}

void parse_work(py::handle work_h, std::size_t work_index, const ArrayKind& kind, Parsed& out) {
  const std::string wname = "work " + std::to_string(work_index);
  if (!py::isinstance<py::tuple>(work_h) || py::len(work_h) < 5 || py::len(work_h) > 7)
    throw py::type_error(wname + ": expected a tuple (family, flags, scalars, operands, names"
                                 "[, masters[, rounding]])");
  py::tuple work = py::reinterpret_borrow<py::tuple>(work_h);
  const int family = static_cast<int>(int_arg(work[0], wname + ": family", 0, kNumSpecs - 1));
  const FamilySpec& spec = family_spec(family);

  Hyper hyper{};
  hyper.flags = static_cast<std::uint32_t>(
      int_arg(work[1], wname + ": flags of " + spec.name, 0, (1LL << spec.n_flags) - 1));
  py::sequence scalars = py::reinterpret_borrow<py::sequence>(work[2]);
  if (static_cast<int>(py::len(scalars)) != spec.n_scalars)
    throw py::value_error(wname + ": " + spec.name + " takes " + std::to_string(spec.n_scalars) +
                          " scalars");
  for (int s = 0; s < spec.n_scalars; ++s)
    hyper.s[s] = float_arg(scalars[s], wname + ": " + spec.scalars[s]);

  py::sequence operands = py::reinterpret_borrow<py::sequence>(work[3]);
  if (static_cast<int>(py::len(operands)) != spec.n_operands)
    throw py::value_error(wname + ": " + spec.name + " takes " + std::to_string(spec.n_operands) +
                          " operand lists");
  // Labels keep a pointer to the names object: it lives in out.names, which never moves it.
  out.names.push_back(work[4]);
  const py::object& names = out.names.back();

  // Which operand lists this call uses, and their lengths.
  bool used[kMaxOperands] = {};
  py::sequence lists[kMaxOperands];
  const py::sequence params = as_list(operands[0], spec.operands[0].name);
  const std::size_t n = py::len(params);
  if (!names.is_none() && py::len(names) != n)
    throw py::value_error(wname + ": names has " + std::to_string(py::len(names)) +
                          " entries for " + std::to_string(n) + " params");
  // Float32 master copies of 16-bit params (optional): the rule updates the master and
  // the param is its rounding (engine/mixed_apply.cpp). None, or one entry per param:
  // None (no master) or a float32 array of the param's shape.
  py::sequence masters;
  const bool has_masters = py::len(work) >= 6 && !work[5].is_none();
  if (has_masters) {
    if (family >= kNumFamilies)
      throw py::value_error(wname + ": master copies are for updates only");
    masters = as_list(work[5], "masters");
    if (py::len(masters) != n)
      throw py::value_error("masters: has " + std::to_string(py::len(masters)) +
                            " entries but params has " + std::to_string(n));
  }
  // Stochastic rounding of the 16-bit values written (optional): None, or (seed,
  // tensors, steps), each param's flat index in its optimizer and its step count of this
  // step, the inputs of rounding_key (engine/multi_tensor.h).
  const bool stochastic = py::len(work) == 7 && !work[6].is_none();
  std::uint64_t round_seed = 0;
  py::sequence round_tensors, round_steps;
  if (stochastic) {
    if (family >= kNumFamilies)
      throw py::value_error(wname + ": stochastic rounding is for updates only");
    if (!py::isinstance<py::tuple>(work[6]) || py::len(work[6]) != 3)
      throw py::type_error(wname + ": rounding: expected a tuple (seed, tensors, steps)");
    py::tuple rounding = py::reinterpret_borrow<py::tuple>(work[6]);
    round_seed = u64_arg(rounding[0], wname + ": rounding seed");
    round_tensors = as_list(rounding[1], "rounding tensors");
    round_steps = as_list(rounding[2], "rounding steps");
    if (py::len(round_tensors) != n || py::len(round_steps) != n)
      throw py::value_error(wname + ": rounding: one tensor index and one step per param");
  }
  for (int k = 0; k < spec.n_operands; ++k) {
    const OperandSpec& op = spec.operands[k];
    used[k] = op.needs == 0 || (hyper.flags & op.needs);
    if (!used[k]) continue;
    lists[k] = as_list(operands[k], op.name);
    if (py::len(lists[k]) != n)
      throw py::value_error(std::string(op.name) + ": has " + std::to_string(py::len(lists[k])) +
                            " arrays but params has " + std::to_string(n));
  }

  // One launch per (param dtype, state dtype) pair, in that order (float32 first, as
  // before 16-bit dtypes). Kernels are bound by the caller (engine/dispatch.h's
  // bind_cpu_kernels, a reduction's own table, or the CUDA launcher).
  constexpr int kTypes = 4, kCombos = kTypes * kTypes * 2;  // x2: with master copies
  Launch by_type[kCombos];
  // 16-bit params, grads and state: updates and reductions (on the host, float32 code
  // runs over converted tiles, engine/mixed_apply.cpp; on the device, the kernels read
  // and write through cuda/access.h's MixedAccess).
  const bool half = family < kNumFamilies || family == kReduce;

  out.work_begin.push_back(static_cast<int>(out.tensors.size()));
  const int base = static_cast<int>(out.launches.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Label pname{spec.operands[0].name, &names, i};
    const ArrayView param = kind.view(params[i], pname);
    const DType dt = step_dtype(param, pname, half);
    check_layout(param, pname, spec.operands[0].written, kind);
    if (out.device == Parsed::kNoArrays || out.device == kAnyDevice) out.device = param.device;
    if (!same_device(param.device, out.device))
      throw py::value_error(pname.str() + ": on CUDA device " + std::to_string(param.device) +
                            " but the call's first param is on device " +
                            std::to_string(out.device) + "; one call runs on one device");
    TensorSlot slot{};
    slot.numel = param.numel;
    if (stochastic) {
      slot.round_tensor = u64_arg(round_tensors[i], wname + ": rounding tensors");
      slot.round_step = u64_arg(round_steps[i], wname + ": rounding steps");
    }
    // The state's dtype: the param's, or (16-bit params, or float32 params with 16-bit
    // state) float32, float16 or bfloat16, the same for every state buffer of the param.
    int state_type = -1;
    std::uint8_t elem[kMaxOperands] = {};
    for (int k = 0; k < spec.n_operands; ++k) {
      if (!used[k]) continue;
      const OperandSpec& op = spec.operands[k];
      ArrayView view;
      const ArrayView* a = &param;
      Label what = pname;
      elem[k] = static_cast<std::uint8_t>(dt);
      if (k > 0) {
        what = Label{op.name, &names, i};
        view = kind.view(lists[k][i], what);
        // Grads come in their param's dtype; the other operands are state (LAMB's update
        // pass reads its moments as operand 1).
        if (dt == DType::F64 || std::strcmp(op.name, "grads") == 0) {
          check_matches(view, what, param, dt);
        } else {
          const DType st = step_dtype(view, what, half);
          if (st == DType::F64)
            throw py::type_error(what.str() + ": dtype " + dtype_str(view) +
                                 " does not match its param's dtype " + dtype_str(param) +
                                 " (state of float32 or 16-bit params: float32, float16 or "
                                 "bfloat16)");
          if (state_type >= 0 && static_cast<int>(st) != state_type)
            throw py::type_error(what.str() + ": dtype " + dtype_str(view) +
                                 " differs from the dtype of this param's other state; every "
                                 "state buffer of a param has one dtype");
          state_type = static_cast<int>(st);
          elem[k] = static_cast<std::uint8_t>(st);
          check_same_shape(view, what, param);
        }
        check_layout(view, what, op.written, kind);
        a = &view;
      }
      slot.ptr[k] = a->data;
      if (a->nbytes() > 0) {
        const auto lo = reinterpret_cast<std::uintptr_t>(a->data);
        (op.written ? out.written : out.read).push_back({lo, lo + a->nbytes(), what});
      }
      if (op.written)
        out.written_arrays.push_back(a->obj);
      else if (k != 1)
        out.other_reads.push_back(a->obj);
      else
        out.grads.push_back(a->obj);
    }
    bool master = false;
    if (has_masters && !masters[i].is_none()) {
      const Label mname{"masters", &names, i};
      const ArrayView m = kind.view(masters[i], mname);
      if (dt != DType::F16 && dt != DType::BF16)
        throw py::value_error(mname.str() + ": a master copy is kept for float16 and bfloat16 "
                                            "params only, this param is " + dtype_str(param));
      if (step_dtype(m, mname, false) != DType::F32)
        throw py::type_error(mname.str() + ": dtype " + dtype_str(m) + " must be float32");
      check_same_shape(m, mname, param);
      check_layout(m, mname, true, kind);
      slot.ptr[kMasterSlot] = m.data;
      if (m.nbytes() > 0) {
        const auto lo = reinterpret_cast<std::uintptr_t>(m.data);
        out.written.push_back({lo, lo + m.nbytes(), mname});
      }
      out.written_arrays.push_back(m.obj);
      master = true;
    }
    const int pt = static_cast<int>(dt);
    const int types = pt * kTypes + (state_type < 0 ? pt : state_type);
    const int combo = types * 2 + (master ? 1 : 0);
    Launch& l = by_type[combo];
    if (l.tensors.empty()) {
      l.family = family;
      l.hyper = hyper;
      l.n_operands = spec.n_operands;
      l.elem_size = elem_bytes(pt);
      l.mixed = types != kElemF32 * (kTypes + 1) && types != kElemF64 * (kTypes + 1);
      l.master = master;
      l.stochastic = stochastic;
      l.round_seed = round_seed;
      l.written = spec.written_mask();
      for (int k = 0; k < kMaxOperands; ++k) l.elem[k] = elem[k];
    }
    // Operands the flags leave out take the launch's types (they are null).
    // Launch indices are final below, in combo order.
    out.tensors.push_back({combo, static_cast<int>(l.tensors.size()), param.obj.ptr()});
    l.tensors.push_back(slot);
  }
  int index[kCombos];
  std::vector<int> launches_of_work;
  for (int c = 0, next = base; c < kCombos; ++c) {
    index[c] = by_type[c].tensors.empty() ? -1 : next++;
    if (index[c] >= 0) launches_of_work.push_back(index[c]);
  }
  for (std::size_t t = out.work_begin.back(); t < out.tensors.size(); ++t)
    out.tensors[t].launch = index[out.tensors[t].launch];
  out.work_launches.push_back(std::move(launches_of_work));
  for (Launch& l : by_type)
    if (!l.tensors.empty()) out.launches.push_back(std::move(l));
}

}  // namespace

// Everything written must be disjoint from everything else written or read.
void check_overlaps(Parsed& p) {
  auto by_lo = [](const Range& a, const Range& b) { return a.lo < b.lo; };
  std::sort(p.written.begin(), p.written.end(), by_lo);
  for (std::size_t i = 1; i < p.written.size(); ++i)
    if (p.written[i].lo < p.written[i - 1].hi)
      throw py::value_error(p.written[i].what.str() + " shares memory with " +
                            p.written[i - 1].what.str() +
                            ": every array updated in place must be passed once, on its own");
  for (const Range& r : p.read) check_read_range(p, r.lo, r.hi, r.what);
}

void check_read_range(const Parsed& p, std::uintptr_t lo, std::uintptr_t hi, const Label& what) {
  // Written ranges are disjoint and sorted, so their ends are sorted too.
  auto it = std::upper_bound(p.written.begin(), p.written.end(), lo,
                             [](std::uintptr_t x, const Range& w) { return x < w.hi; });
  if (it != p.written.end() && it->lo < hi)
    throw py::value_error(what.str() + " shares memory with " + it->what.str() +
                          ", which is updated in place; pass a separate gradient array");
}

void check_appliable(const Parsed& p, bool sums) {
  for (const Launch& l : p.launches) {
    const FamilySpec& spec = family_spec(l.family);
    if (l.family >= kNumFamilies)
      throw py::value_error(std::string("works: ") + spec.name +
                            " is a reduction or a multi-pass step (Adafactor), not an update");
    if (sums && spec.n_sums == 0)
      throw py::value_error(std::string("works: ") + spec.name +
                            " is not an update that sums (apply_sums runs those only)");
    if (!sums && spec.n_sums > 0)
      throw py::value_error(std::string("works: ") + spec.name +
                            " is an update that also sums: run it with apply_sums");
  }
}

Parsed parse_all(const py::list& works, const ArrayKind& kind) {
  Parsed p;
  for (std::size_t w = 0; w < works.size(); ++w) parse_work(works[w], w, kind, p);
  check_overlaps(p);
  return p;
}


void check_params(const py::sequence& arrays, const py::object& names, const ArrayKind& kind) {
  Parsed p;
  for (std::size_t i = 0; i < py::len(arrays); ++i) {
    const Label what{"params", &names, i};
    const ArrayView a = kind.view(arrays[i], what);
    step_dtype(a, what, true);
    check_layout(a, what, true, kind);
    if (i > 0 && !same_device(a.device, p.device))
      throw py::value_error(what.str() + ": on CUDA device " + std::to_string(a.device) +
                            " but params[0] is on device " + std::to_string(p.device) +
                            "; an optimizer's params are all on one device");
    if (i == 0 || p.device == kAnyDevice) p.device = a.device;
    const auto lo = reinterpret_cast<std::uintptr_t>(a.data);
    if (a.nbytes() > 0) p.written.push_back({lo, lo + a.nbytes(), what});
  }
  check_overlaps(p);
}

py::list reduction_works(int kind, const py::list& arrays, double scalar, const py::object& names,
                         const py::object& others) {
  if (kind < 0 || kind >= kNumReductions) throw py::value_error("kind: unknown reduction");
  py::list works;
  if (kind == kDotProduct) {
    if (others.is_none()) throw py::value_error("ys: a dot product needs a second list");
    works.append(py::make_tuple(static_cast<int>(kDot), 0, py::tuple(),
                                py::make_tuple(arrays, others), names));
  } else {
    works.append(py::make_tuple(static_cast<int>(kReduce), 0, py::make_tuple(scalar),
                                py::make_tuple(arrays), names));
  }
  return works;
}

double combine_partials(int kind, const double* partial, std::size_t n) {
  double r = 0.0;
  if (kind == kMaxAbs) {
    for (std::size_t i = 0; i < n; ++i) {
      if (partial[i] != partial[i]) return partial[i];  // NaN anywhere: NaN
      if (partial[i] > r) r = partial[i];
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) r += partial[i];
  }
  return r;
}

}  // namespace fusedoptim
