"""The inputs of tests/test_native_fuzz.py: every entry point of the compiled modules,
an explicit list of known-bad calls, and hypothesis generators of wrong calls.

Run as a script, this file is the child process of those tests: it makes the calls
and prints one line per call before making it, so that a crash (which kills the
child, not pytest) is reported with the offending call:

    python tests/native_fuzz_cases.py known START    # the known-bad calls from START
    python tests/native_fuzz_cases.py fuzz START     # the fuzzers from START

Protocol on stdout: "@@START i", "@@CALL <call>", "@@DONE i <json status>".

What counts as bad input here is what a caller can pass: Python objects of any type,
NumPy arrays of any dtype, shape and layout, and objects with any
__cuda_array_interface__ (the emulator treats their addresses as host memory, so
it checks them against the process's mappings). An array that lies about its
memory inside memory the process has mapped (NumPy's as_strided past its buffer,
an interface claiming more than its allocation) cannot be told from a good one,
by fusedoptim or by NumPy, and is out of scope.
"""
from __future__ import annotations

import ctypes
import faulthandler
import json
import os
import sys
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fusedoptim import _core  # noqa: E402

try:
    from fusedoptim import _cuda_emulator as _emu
except ImportError:  # built with -DFUSEDOPTIM_CUDA_EMULATOR=OFF
    _emu = None

MODULES = {"_core": _core, "_cuda_emulator": _emu}
SPECS = _core.kernel_specs()
APPLY_FAMILIES = [n for n in SPECS if n not in ("reduce", "dot")]
R = _core.Reduction
SGD = SPECS["sgd"]["id"]
MAX_THREADS = 1024  # set_num_threads' upper bound
SHAPES = [(2,), (3,), (5,), (2, 3), (3, 1, 2)]  # all of >= 2 elements: a strided view is not contiguous


# ------------------------------------------------------------------ entry points
def entry_points() -> list[str]:
    """Every public callable of the compiled modules (dir()), and every method and
    property each of their classes defines, as "module.name[.member]"."""
    out = []
    for short, mod in MODULES.items():
        if mod is None:
            continue
        for name in dir(mod):
            if name.startswith("__"):
                continue
            obj = getattr(mod, name)
            if isinstance(obj, type):
                out.append(f"{short}.{name}")
                for key, value in vars(obj).items():
                    if callable(value) or isinstance(value, property):
                        out.append(f"{short}.{name}.{key}")
            elif callable(obj):
                out.append(f"{short}.{name}")
    return out


def resolve(entry: str):
    """The callable of an entry point: a property's getter for a property."""
    short, *path = entry.split(".")
    obj = MODULES[short]
    for i, part in enumerate(path):
        obj = vars(obj)[part] if i else getattr(obj, part)
    return obj.fget if isinstance(obj, property) else obj


# ------------------------------------------------------------------ array helpers
class CAI:
    """Any __cuda_array_interface__ at all; `keep` holds the host memory it points at."""

    def __init__(self, iface, keep=None):
        self.iface, self.keep = iface, keep

    @property
    def __cuda_array_interface__(self):
        if isinstance(self.iface, Exception):
            raise self.iface
        return self.iface

    def __repr__(self):
        return f"CAI({self.iface!r})"


def cai(a: np.ndarray, readonly=False, **change):
    """A device array (for the emulator: host memory) over `a`, with keys changed."""
    iface = {"version": 3, "shape": a.shape, "typestr": a.dtype.str,
             "data": (a.ctypes.data, readonly),
             "strides": None if a.flags.c_contiguous else a.strides}
    iface.update(change)
    return CAI(iface, a)


def unaligned(shape, dtype):
    """A C-contiguous, writeable array whose data is one byte off its dtype's alignment."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    return np.frombuffer(bytearray(n * dtype.itemsize + 1), dtype, n, offset=1).reshape(shape)


def strided(shape, dtype):
    """A non-contiguous view (every other element of a buffer) of this shape and dtype."""
    return np.zeros(tuple(shape[:-1]) + (2 * shape[-1],), dtype)[..., ::2]


def readonly(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def uninitialized(cls):
    """An instance made by cls.__new__ without __init__: pybind11 gives its methods raw memory."""
    return cls.__new__(cls)


CODE_PAGE = ctypes.cast(ctypes.pythonapi.Py_IncRef, ctypes.c_void_p).value & ~4095  # r-x memory
BOGUS_POINTERS = [8, 0xDEAD0000, 2**47 - 4096, 2**64 - 8]


def describe(x, depth=0) -> str:
    """A short, complete-enough description of an argument for crash reports."""
    if isinstance(x, np.ndarray):
        f = x.flags
        return (f"ndarray(shape={x.shape}, dtype={x.dtype.str}, strides={x.strides}, "
                f"C={f.c_contiguous}, W={f.writeable}, A={f.aligned})")
    if depth > 3:
        return "..."
    if isinstance(x, list):
        return "[" + ", ".join(describe(v, depth + 1) for v in x) + "]"
    if isinstance(x, tuple):
        return "(" + ", ".join(describe(v, depth + 1) for v in x) + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v, depth + 1)}" for k, v in x.items()) + "}"
    r = repr(x)
    return r if len(r) < 200 else r[:200] + "..."


# ------------------------------------------------------------------ valid calls
def sgd_work(n=1, dtype=np.float64, momentum=False, names=None, shape=(3,)):
    params = [np.zeros(shape, dtype) for _ in range(n)]
    grads = [np.ones(shape, dtype) for _ in range(n)]
    bufs = [np.zeros(shape, dtype) for _ in range(n)] if momentum else None
    flags = 4 if momentum else 0  # sgd's "momentum" flag
    return (SGD, flags, (0.1, 0.9, 0.0, 0.0), (params, grads, bufs), names)


def dev_sgd_work(n=1, dtype=np.float64, shape=(3,)):
    """An SGD work over emulator device arrays."""
    params = [cai(np.zeros(shape, dtype)) for _ in range(n)]
    grads = [cai(np.ones(shape, dtype), readonly=True) for _ in range(n)]
    return (SGD, 0, (0.1, 0.0, 0.0, 0.0), (params, grads, None), None)


def host_plan():
    works = [sgd_work(2)]
    return _core.Plan(works), [np.ones(3), np.ones(3)], [(0.1, 0.9, 0.0, 0.0)]


def dev_plan():
    works = [dev_sgd_work(2)]
    return _emu.Plan(works), [cai(np.ones(3)), cai(np.ones(3))], [(0.1, 0.0, 0.0, 0.0)]


def _reduce_dev(make=None, arrays=None, kind=0, others=None):
    arrays = arrays if arrays is not None else [cai(np.ones(5), readonly=True)]
    make = make or (lambda n: cai(np.zeros(n)))
    return lambda: _emu.reduce(kind, arrays, 1.0, None, others, make, 0)


def _xent(logits, targets, scale=1.0):
    return lambda: _core.softmax_xent(logits, targets, scale)


def _run(works):
    return lambda: _core.run(works)


# ------------------------------------------------------------------ known-bad calls
TV = (TypeError, ValueError)
# pybind11's own enum methods take `self` as any object and fail as Python would.
PYBIND_ENUM = (TypeError, ValueError, AttributeError)


def _known_bad():
    """(entry, what, call, exceptions it may raise). Each must raise one of them."""
    z23 = np.zeros((2, 3))
    w = sgd_work
    cases = [
        # softmax_xent: labels are re-checked natively (the example first).
        ("_core.softmax_xent", "label 10**9 >= C", _xent(z23, np.array([0, 10**9])), ValueError),
        ("_core.softmax_xent", "label -1", _xent(z23, np.array([0, -1])), ValueError),
        ("_core.softmax_xent", "label == C", _xent(z23, np.array([3, 0])), ValueError),
        ("_core.softmax_xent", "label -2**63", _xent(z23, np.array([0, -2**63])), ValueError),
        ("_core.softmax_xent", "labels, C = 0", _xent(np.zeros((2, 0)), np.array([0, 0])), ValueError),
        ("_core.softmax_xent", "big-endian int64 labels", _xent(z23, np.array([0, 1], ">i8")),
         TypeError),
        ("_core.softmax_xent", "int32 labels", _xent(z23, np.array([0, 1], np.int32)), TypeError),
        ("_core.softmax_xent", "uint64 labels", _xent(z23, np.array([0, 1], np.uint64)), TypeError),
        ("_core.softmax_xent", "float labels", _xent(z23, np.array([0.0, 1.0])), TV),
        ("_core.softmax_xent", "labels too short", _xent(z23, np.array([0])), ValueError),
        ("_core.softmax_xent", "strided labels", _xent(z23, np.zeros(4, np.int64)[::2]), ValueError),
        ("_core.softmax_xent", "unaligned labels", _xent(z23, unaligned((2,), np.int64)), ValueError),
        ("_core.softmax_xent", "0-d targets", _xent(z23, np.array(0)), ValueError),
        ("_core.softmax_xent", "3-d targets", _xent(z23, np.zeros((2, 3, 1))), ValueError),
        ("_core.softmax_xent", "probs of another shape", _xent(z23, np.zeros((3, 2))), ValueError),
        ("_core.softmax_xent", "probs of another dtype", _xent(z23, np.zeros((2, 3), np.float32)),
         TypeError),
        ("_core.softmax_xent", "list logits", _xent([[0.0, 1.0]], np.array([0])), TypeError),
        ("_core.softmax_xent", "list targets", _xent(z23, [0, 1]), TypeError),
        ("_core.softmax_xent", "None logits", _xent(None, np.array([0])), TypeError),
        ("_core.softmax_xent", "0-d logits", _xent(np.zeros(()), np.array(0)), ValueError),
        ("_core.softmax_xent", "1-d logits", _xent(np.zeros(3), np.array([0, 0, 0])), ValueError),
        ("_core.softmax_xent", "int logits", _xent(np.zeros((2, 3), np.int64), np.array([0, 1])),
         TypeError),
        ("_core.softmax_xent", "strided logits", _xent(strided((2, 3), np.float64), np.array([0, 1])),
         ValueError),
        ("_core.softmax_xent", "grad_scale None", _xent(z23, np.array([0, 1]), None), TypeError),
        # run / validate: the work tuples
        ("_core.run", "works not a list", lambda: _core.run(w()), TypeError),
        ("_core.run", "work a list", _run([list(w())]), TypeError),
        ("_core.run", "work of 4 items", _run([w()[:4]]), TypeError),
        ("_core.run", "family -1", _run([(-1,) + w()[1:]]), ValueError),
        ("_core.run", "family past the table", _run([(len(SPECS),) + w()[1:]]), ValueError),
        ("_core.run", "family 2**70", _run([(2**70,) + w()[1:]]), TV),
        ("_core.run", "family a str", _run([("sgd",) + w()[1:]]), TypeError),
        ("_core.run", "family a float", _run([(0.0,) + w()[1:]]), TypeError),
        ("_core.run", "flags -1", _run([w()[:1] + (-1,) + w()[2:]]), TV),
        ("_core.run", "flags 2**40", _run([w()[:1] + (2**40,) + w()[2:]]), TV),
        ("_core.run", "flags None", _run([w()[:1] + (None,) + w()[2:]]), TypeError),
        ("_core.run", "unknown flag bit", _run([w()[:1] + (1 << 20,) + w()[2:]]), ValueError),
        ("_core.run", "3 scalars for 4", _run([w()[:2] + ((0.1, 0.0, 0.0),) + w()[3:]]), ValueError),
        ("_core.run", "scalars None", _run([w()[:2] + (None,) + w()[3:]]), TypeError),
        ("_core.run", "scalar a str", _run([w()[:2] + (("x", 0, 0, 0),) + w()[3:]]), TypeError),
        ("_core.run", "operands None", _run([w()[:3] + (None, None)]), TypeError),
        ("_core.run", "2 operand lists for 3", _run([w()[:3] + (w()[3][:2], None)]), ValueError),
        ("_core.run", "params a bare array", _run([w()[:3] + ((np.zeros(3), [np.ones(3)], None),
                                                              None)]), TypeError),
        ("_core.run", "grads one short", _run([w()[:3] + (([np.zeros(3)], [], None), None)]),
         ValueError),
        ("_core.run", "momentum buffers missing", _run([w(momentum=True)[:3] +
                                                        (w()[3], None)]), TypeError),
        ("_core.run", "names too long", _run([w(names=["a", "b"])]), ValueError),
        ("_core.run", "names an int", _run([w(names=3)]), TypeError),
        ("_core.run", "names a tuple, bad grad", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                        ([np.zeros(3)], [np.zeros(3, np.int8)], None),
                                                        ("p",))]), TypeError),
        ("_core.run", "names a str, bad grad", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                      ([np.zeros(3)], [np.zeros(3, np.int8)], None),
                                                      "p")]), TypeError),
        ("_core.run", "names a dict, bad grad", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                       ([np.zeros(3)], [np.zeros(3, np.int8)], None),
                                                       {0: "p"})]), TV),
        ("_core.run", "grad int64", _run([(SGD, 0, (0.1, 0, 0, 0),
                                           ([np.zeros(3)], [np.zeros(3, np.int64)], None), None)]),
         TypeError),
        ("_core.run", "grad of another shape", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                       ([np.zeros(3)], [np.zeros(4)], None), None)]),
         ValueError),
        ("_core.run", "param strided", _run([(SGD, 0, (0.1, 0, 0, 0),
                                              ([strided((3,), float)], [np.zeros(3)], None), None)]),
         ValueError),
        ("_core.run", "param read-only", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                ([readonly(np.zeros(3))], [np.zeros(3)], None),
                                                None)]), ValueError),
        ("_core.run", "param unaligned", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                ([unaligned((3,), float)], [np.zeros(3)], None),
                                                None)]), ValueError),
        ("_core.run", "grad is the param", _run([(lambda p: (SGD, 0, (0.1, 0, 0, 0), ([p], [p], None),
                                                            None))(np.zeros(3))]), ValueError),
        ("_core.run", "a param in two works", _run((lambda p: [
            (SGD, 0, (0.1, 0, 0, 0), ([p], [np.ones(3)], None), None),
            (SGD, 0, (0.1, 0, 0, 0), ([p], [np.ones(3)], None), None)])(np.zeros(3))), ValueError),
        ("_core.run", "a device array among host arrays", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                                  ([np.zeros(3)], [cai(np.ones(3))],
                                                                   None), None)]), TypeError),
        ("_core.run", "a reduction work", _run([(SPECS["reduce"]["id"], 0, (2.0,), ([np.ones(3)],),
                                                 None)]), ValueError),
        ("_core.validate", "works None", lambda: _core.validate(None), TypeError),
        ("_core.validate", "family past the table",
         lambda: _core.validate([(len(SPECS),) + w()[1:]]), ValueError),
        ("_core.validate", "grad float32 for a float64 param",
         lambda: _core.validate([(SGD, 0, (0.1, 0, 0, 0), ([np.zeros(3)], [np.zeros(3, np.float32)],
                                                            None), None)]), TypeError),
        # Plan
        ("_core.Plan", "works None", lambda: _core.Plan(None), TypeError),
        ("_core.Plan", "a reduction work", lambda: _core.Plan([(SPECS["reduce"]["id"], 0, (2.0,),
                                                                ([np.ones(3)],), None)]), ValueError),
        ("_core.Plan", "params a tuple holding a bad array",
         lambda: _core.Plan([(SGD, 0, (0.1, 0, 0, 0), ((np.zeros(3, int),), [np.ones(3)], None),
                              None)]), TypeError),
        ("_core.Plan.__init__", "self an int", lambda: _core.Plan.__init__(3, [w()]), TypeError),
        ("_core.Plan.run", "grads one short", lambda: (lambda p, g, s: p.run(g[:1], s))(*host_plan()),
         _core.StalePlan),
        ("_core.Plan.run", "grads not a list", lambda: (lambda p, g, s: p.run(tuple(g), s))(*host_plan()),
         TypeError),
        ("_core.Plan.run", "grad int64",
         lambda: (lambda p, g, s: p.run([g[0], np.ones(3, np.int64)], s))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "grad strided",
         lambda: (lambda p, g, s: p.run([g[0], strided((3,), float)], s))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "3 scalars for 4",
         lambda: (lambda p, g, s: p.run(g, [(0.1, 0.9, 0.0)]))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "11 scalars",
         lambda: (lambda p, g, s: p.run(g, [(0.1,) * 11]))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "a scalar a str",
         lambda: (lambda p, g, s: p.run(g, [("x", 0.9, 0.0, 0.0)]))(*host_plan()), TypeError),
        ("_core.Plan.run", "two scalar tuples for one work",
         lambda: (lambda p, g, s: p.run(g, s * 2))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "uninitialized Plan", lambda: uninitialized(_core.Plan).run([], []),
         TypeError),
        ("_core.Plan.run", "self an int", lambda: _core.Plan.run(3, [], []), TypeError),
        ("_core.Plan.__len__", "uninitialized Plan", lambda: len(uninitialized(_core.Plan)), TypeError),
        ("_core.Plan._pybind11_conduit_v1_", "garbage",
         lambda: _core.Plan._pybind11_conduit_v1_(3, b"x", b"y"), TypeError),
        # reduce
        ("_core.reduce", "kind out of the enum", lambda: _core.reduce(R(99), [np.ones(3)]), ValueError),
        ("_core.reduce", "kind -1", lambda: _core.reduce(R(-1), [np.ones(3)]), ValueError),
        ("_core.reduce", "kind an int", lambda: _core.reduce(0, [np.ones(3)]), TypeError),
        ("_core.reduce", "arrays None", lambda: _core.reduce(R.SUM_SQUARES, None), TypeError),
        ("_core.reduce", "an int8 array", lambda: _core.reduce(R.SUM_SQUARES, [np.ones(3, np.int8)]),
         TypeError),
        ("_core.reduce", "a strided array", lambda: _core.reduce(R.MAX_ABS, [strided((3,), float)]),
         ValueError),
        ("_core.reduce", "names too short", lambda: _core.reduce(R.MAX_ABS, [np.ones(3)] * 2, 1.0, ["a"]),
         ValueError),
        ("_core.reduce", "names a tuple, bad array",
         lambda: _core.reduce(R.MAX_ABS, [np.ones(3, np.int8)], 1.0, ("a",)), TypeError),
        ("_core.reduce", "dot without others", lambda: _core.reduce(R.DOT, [np.ones(3)]), ValueError),
        ("_core.reduce", "dot, others one short",
         lambda: _core.reduce(R.DOT, [np.ones(3)], 1.0, None, []), ValueError),
        ("_core.reduce", "dot, others of another shape",
         lambda: _core.reduce(R.DOT, [np.ones(3)], 1.0, None, [np.ones(4)]), ValueError),
        ("_core.reduce", "dot, others an int", lambda: _core.reduce(R.DOT, [np.ones(3)], 1.0, None, 5),
         TypeError),
        ("_core.reduce", "scalar a str", lambda: _core.reduce(R.SUM_POW, [np.ones(3)], "x"), TypeError),
        ("_core.Reduction", "a str", lambda: R("x"), TypeError),
        ("_core.Reduction", "2**70", lambda: R(2**70), TypeError),
        ("_core.Reduction.__init__", "self an int", lambda: R.__init__(3, 1), TypeError),
        ("_core.Reduction.__eq__", "self an int", lambda: R.__eq__(3, R.DOT), TypeError),
        ("_core.Reduction.__ne__", "self an int", lambda: R.__ne__(3, R.DOT), TypeError),
        ("_core.Reduction.__hash__", "self a str", lambda: R.__hash__("x"), PYBIND_ENUM),
        ("_core.Reduction.__int__", "self None", lambda: R.__int__(None), TypeError),
        ("_core.Reduction.__index__", "self a str", lambda: R.__index__("x"), TypeError),
        ("_core.Reduction.__repr__", "self an int", lambda: R.__repr__(3), PYBIND_ENUM),
        ("_core.Reduction.__str__", "self an int", lambda: R.__str__(3), PYBIND_ENUM),
        ("_core.Reduction.__getstate__", "self a str", lambda: R.__getstate__("x"), PYBIND_ENUM),
        ("_core.Reduction.__setstate__", "self an int", lambda: R.__setstate__(3, 1), PYBIND_ENUM),
        ("_core.Reduction.name", "self an int", lambda: vars(R)["name"].fget(3), PYBIND_ENUM),
        ("_core.Reduction.value", "self an int", lambda: vars(R)["value"].fget(3), TypeError),
        ("_core.Reduction.__doc__", "self an int", lambda: vars(R)["__doc__"].fget(None, 1), TypeError),
        ("_core.Reduction.__members__", "extra argument",
         lambda: vars(R)["__members__"].fget(R, 1), TypeError),
        ("_core.Reduction._pybind11_conduit_v1_", "garbage",
         lambda: R._pybind11_conduit_v1_(3, b"x", b"y"), TypeError),
        ("_core.StalePlan", "not an exception to call with keywords", lambda: _core.StalePlan(x=1),
         TypeError),
        # check_params
        ("_core.check_params", "arrays an int", lambda: _core.check_params(3), TypeError),
        ("_core.check_params", "an element a list", lambda: _core.check_params([[1.0]]), TypeError),
        ("_core.check_params", "read-only", lambda: _core.check_params([readonly(np.ones(3))]),
         ValueError),
        ("_core.check_params", "the same array twice",
         lambda: (lambda a: _core.check_params([a, a]))(np.ones(3)), ValueError),
        ("_core.check_params", "overlapping views",
         lambda: (lambda a: _core.check_params([a[:3], a[2:]]))(np.ones(5)), ValueError),
        ("_core.check_params", "names too short",
         lambda: _core.check_params([np.ones(3), np.ones(3)], ["a"]), ValueError),
        ("_core.check_params", "names an int", lambda: _core.check_params([np.ones(3)], 5), TypeError),
        ("_core.check_params", "names a tuple, bad array",
         lambda: _core.check_params([np.ones(3, int)], ("a",)), TypeError),
        # threads, ISA, info
        ("_core.set_num_threads", "0", lambda: _core.set_num_threads(0), ValueError),
        ("_core.set_num_threads", "-1", lambda: _core.set_num_threads(-1), ValueError),
        ("_core.set_num_threads", "over the bound", lambda: _core.set_num_threads(MAX_THREADS + 1),
         ValueError),
        ("_core.set_num_threads", "10**6", lambda: _core.set_num_threads(10**6), ValueError),
        ("_core.set_num_threads", "2**40", lambda: _core.set_num_threads(2**40), TV),
        ("_core.set_num_threads", "a float", lambda: _core.set_num_threads(1.5), TypeError),
        ("_core.set_isa", "unknown", lambda: _core.set_isa("avx1024"), ValueError),
        ("_core.set_isa", "a NUL inside", lambda: _core.set_isa("scalar\0"), ValueError),
        ("_core.set_isa", "None", lambda: _core.set_isa(None), TypeError),
        ("_core.get_isa", "an argument", lambda: _core.get_isa(1), TypeError),
        ("_core.same_key", "one argument", lambda: _core.same_key(1), TypeError),
        ("_core.same_key", "an __eq__ that raises",
         lambda: _core.same_key((_RaisingEq(),), [_RaisingEq()]), ValueError),
        ("_core.get_num_threads", "an argument", lambda: _core.get_num_threads(1), TypeError),
        ("_core.build_info", "an argument", lambda: _core.build_info(1), TypeError),
        ("_core.kernel_specs", "an argument", lambda: _core.kernel_specs(1), TypeError),
    ]
    if _emu is not None:
        cases += _known_bad_emulator()
    return cases


def _erun(works, stream=0):
    return lambda: _emu.run(works, stream)


def _dev_work(param, grad=None):
    grad = grad if grad is not None else cai(np.ones(3), readonly=True)
    return [(SGD, 0, (0.1, 0.0, 0.0, 0.0), ([param], [grad], None), None)]


def _known_bad_emulator():
    z = lambda: np.zeros(3)  # noqa: E731
    d = dev_sgd_work
    return [
        ("_cuda_emulator.run", "stream -1", _erun([d()], -1), TypeError),
        ("_cuda_emulator.run", "stream 2**64", _erun([d()], 2**64), TypeError),
        ("_cuda_emulator.run", "a host array among device arrays",
         _erun(_dev_work(np.zeros(3))), TypeError),
        ("_cuda_emulator.run", "param at a bogus address",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (0xDEAD0000, False)}))),
         ValueError),
        ("_cuda_emulator.run", "param at address 8",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (8, False)}))), ValueError),
        ("_cuda_emulator.run", "param in read-only (code) memory",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (CODE_PAGE, False)}))),
         ValueError),
        ("_cuda_emulator.run", "8 GB past a 24-byte buffer",
         _erun(_dev_work(cai(np.zeros(3), shape=(10**9,)),
                         cai(np.ones(3), readonly=True, shape=(10**9,)))), ValueError),
        ("_cuda_emulator.run", "grad at the top of the address space",
         _erun(_dev_work(cai(z()), CAI({"shape": (3,), "typestr": "<f8", "data": (2**64 - 8, True)}))),
         ValueError),
        ("_cuda_emulator.run", "negative shape", _erun(_dev_work(cai(z(), shape=(-1,)))), ValueError),
        ("_cuda_emulator.run", "shape overflowing", _erun(_dev_work(cai(z(), shape=(2**40, 2**40)))),
         ValueError),
        ("_cuda_emulator.run", "shape a list", _erun(_dev_work(cai(z(), shape=[3]))), TypeError),
        ("_cuda_emulator.run", "shape of str", _erun(_dev_work(cai(z(), shape=("3",)))), TypeError),
        ("_cuda_emulator.run", "typestr garbage", _erun(_dev_work(cai(z(), typestr="<fz"))), TypeError),
        ("_cuda_emulator.run", "typestr huge itemsize",
         _erun(_dev_work(cai(z(), typestr="<f99999999999999999999"))), TypeError),
        ("_cuda_emulator.run", "typestr empty", _erun(_dev_work(cai(z(), typestr=""))), TypeError),
        ("_cuda_emulator.run", "typestr an int", _erun(_dev_work(cai(z(), typestr=8))), TypeError),
        ("_cuda_emulator.run", "data None", _erun(_dev_work(cai(z(), data=None))), TypeError),
        ("_cuda_emulator.run", "data of one item", _erun(_dev_work(cai(z(), data=(8,)))), TV),
        ("_cuda_emulator.run", "data a negative address",
         _erun(_dev_work(cai(z(), data=(-8, False)))), ValueError),
        ("_cuda_emulator.run", "param read-only", _erun(_dev_work(cai(z(), readonly=True))), ValueError),
        ("_cuda_emulator.run", "strides of the wrong length",
         _erun(_dev_work(cai(z(), strides=(8, 8)))), TypeError),
        ("_cuda_emulator.run", "strides non-contiguous",
         _erun(_dev_work(cai(np.zeros(6), shape=(3,), strides=(16,)))), ValueError),
        ("_cuda_emulator.run", "negative strides",
         _erun(_dev_work(cai(np.zeros(3), strides=(-8,)))), ValueError),
        ("_cuda_emulator.run", "masked", _erun(_dev_work(cai(z(), mask=cai(np.ones(3, bool))))),
         ValueError),
        ("_cuda_emulator.run", "interface not a dict", _erun(_dev_work(CAI([1, 2]))), TypeError),
        ("_cuda_emulator.run", "interface raising", _erun(_dev_work(CAI(RuntimeError("boom")))),
         RuntimeError),
        ("_cuda_emulator.run", "interface missing data",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8"}))), TV + (KeyError,)),
        ("_cuda_emulator.run", "grad is the param",
         _erun((lambda p: _dev_work(p, p))(cai(z()))), ValueError),
        ("_cuda_emulator.run", "grad overlaps the param",
         _erun((lambda a: _dev_work(cai(a[:3]), cai(a[2:], readonly=True)))(np.zeros(5))), ValueError),
        ("_cuda_emulator.run", "family past the table", _erun([(len(SPECS),) + d()[1:]]), ValueError),
        ("_cuda_emulator.run", "unknown flag bit", _erun([d()[:1] + (1 << 20,) + d()[2:]]), ValueError),
        ("_cuda_emulator.validate", "works a tuple", lambda: _emu.validate((d(),)), TypeError),
        ("_cuda_emulator.validate", "typestr garbage",
         lambda: _emu.validate(_dev_work(cai(z(), typestr="<f"))), TypeError),
        ("_cuda_emulator.check_params", "negative shape",
         lambda: _emu.check_params([cai(z(), shape=(-3,))]), ValueError),
        ("_cuda_emulator.check_params", "the same array twice",
         lambda: (lambda a: _emu.check_params([a, a]))(cai(z())), ValueError),
        ("_cuda_emulator.check_params", "names too short",
         lambda: _emu.check_params([cai(z()), cai(z())], ["a"]), ValueError),
        ("_cuda_emulator.check_params", "a bogus address",
         lambda: _emu.check_params([CAI({"shape": (3,), "typestr": "<f8", "data": (8, False)})]),
         ValueError),
        ("_cuda_emulator.Plan", "param at a bogus address",
         lambda: _emu.Plan(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (8, False)}))),
         ValueError),
        ("_cuda_emulator.Plan.__init__", "self an int", lambda: _emu.Plan.__init__(3, []), TypeError),
        ("_cuda_emulator.Plan.run", "a grad at a bogus address",
         lambda: (lambda p, g, s: p.run([g[0], CAI({"shape": (3,), "typestr": "<f8",
                                                    "data": (8, True)})], s))(*dev_plan()),
         _emu.StalePlan if _emu else None),
        ("_cuda_emulator.Plan.run", "a grad moved to a bogus address after the first run",
         lambda: _moved_grad_plan_run(), ValueError),
        ("_cuda_emulator.Plan.run", "stream -1",
         lambda: (lambda p, g, s: p.run(g, s, -1))(*dev_plan()), TypeError),
        ("_cuda_emulator.Plan.run", "3 scalars for 4",
         lambda: (lambda p, g, s: p.run(g, [(0.1, 0.0, 0.0)]))(*dev_plan()),
         _emu.StalePlan if _emu else None),
        ("_cuda_emulator.Plan.run", "uninitialized Plan",
         lambda: uninitialized(_emu.Plan).run([], [], 0), TypeError),
        ("_cuda_emulator.Plan.__len__", "uninitialized Plan",
         lambda: len(uninitialized(_emu.Plan)), TypeError),
        ("_cuda_emulator.Plan._pybind11_conduit_v1_", "garbage",
         lambda: _emu.Plan._pybind11_conduit_v1_(3, b"x", b"y"), TypeError),
        ("_cuda_emulator.StalePlan", "keywords", lambda: _emu.StalePlan(x=1), TypeError),
        ("_cuda_emulator.reduce", "out at a bogus address",
         _reduce_dev(lambda n: CAI({"shape": (n,), "typestr": "<f8", "data": (8, False)})), ValueError),
        ("_cuda_emulator.reduce", "out in read-only (code) memory",
         _reduce_dev(lambda n: CAI({"shape": (n,), "typestr": "<f8", "data": (CODE_PAGE, False)})),
         ValueError),
        ("_cuda_emulator.reduce", "out too short", _reduce_dev(lambda n: cai(np.zeros(n)[:0])),
         ValueError),
        ("_cuda_emulator.reduce", "out float32", _reduce_dev(lambda n: cai(np.zeros(n, np.float32))),
         TypeError),
        ("_cuda_emulator.reduce", "out read-only", _reduce_dev(lambda n: cai(np.zeros(n), True)),
         ValueError),
        ("_cuda_emulator.reduce", "out a host array", _reduce_dev(lambda n: np.zeros(n)), TypeError),
        ("_cuda_emulator.reduce", "out None", _reduce_dev(lambda n: None), TypeError),
        ("_cuda_emulator.reduce", "out is the input",
         (lambda a: _reduce_dev(lambda n: cai(a), arrays=[cai(a)]))(np.ones(5)), ValueError),
        ("_cuda_emulator.reduce", "make_out not callable",
         lambda: _emu.reduce(0, [cai(np.ones(3))], 1.0, None, None, 5, 0), TypeError),
        ("_cuda_emulator.reduce", "make_out raising",
         _reduce_dev(lambda n: (_ for _ in ()).throw(KeyError("no"))), KeyError),
        ("_cuda_emulator.reduce", "kind 99", _reduce_dev(kind=99), ValueError),
        ("_cuda_emulator.reduce", "kind -1", _reduce_dev(kind=-1), ValueError),
        ("_cuda_emulator.reduce", "an input at a bogus address",
         _reduce_dev(arrays=[CAI({"shape": (3,), "typestr": "<f8", "data": (8, True)})]), ValueError),
        ("_cuda_emulator.reduce", "dot, others one short", _reduce_dev(kind=4, others=[]), ValueError),
        ("_cuda_emulator.pack_layout", "elem_size 0", lambda: _emu.pack_layout([5], 0, 1), ValueError),
        ("_cuda_emulator.pack_layout", "elem_size 3", lambda: _emu.pack_layout([5], 3, 1), ValueError),
        ("_cuda_emulator.pack_layout", "elem_size -1", lambda: _emu.pack_layout([5], -1, 1), TypeError),
        ("_cuda_emulator.pack_layout", "a numel of 2**62",
         lambda: _emu.pack_layout([2**62], 4, 1), ValueError),
        ("_cuda_emulator.pack_layout", "a numel of 2**64 - 1",
         lambda: _emu.pack_layout([2**64 - 1], 4, 1), ValueError),
        ("_cuda_emulator.pack_layout", "a negative numel", lambda: _emu.pack_layout([-1], 4, 1),
         TypeError),
        ("_cuda_emulator.pack_layout", "n_operands 0", lambda: _emu.pack_layout([5], 4, 0), ValueError),
        ("_cuda_emulator.pack_layout", "n_operands 6", lambda: _emu.pack_layout([5], 4, 6), ValueError),
        ("_cuda_emulator.pack_layout", "numels None", lambda: _emu.pack_layout(None, 4, 1), TypeError),
        ("_cuda_emulator.device_info", "an argument", lambda: _emu.device_info(1), TypeError),
    ]


def _moved_grad_plan_run():
    """The emulator re-checks, on every run, the memory of a gradient it has seen
    before: the object is the same, but its interface now points elsewhere."""
    plan, grads, scalars = dev_plan()
    plan.run(grads, scalars)
    grads[1].iface = {"shape": (3,), "typestr": "<f8", "data": (8, True)}
    try:
        plan.run(grads, scalars)
    except _emu.StalePlan:
        raise ValueError("stale") from None


KNOWN_BAD = _known_bad()


# ------------------------------------------------------------------ fuzzers
# Each fuzzer takes hypothesis' `data` and returns (callable, args, must_raise):
# must_raise when the call has at least one defect that makes it invalid; else the
# call must merely not crash (a valid call may succeed).
from hypothesis import strategies as st  # noqa: E402

GARBAGE = [None, 0, 1, -1, 2**31, 2**63, 2**64, 2**70, -2**70, 0.5, float("nan"), float("inf"),
           True, "", "sgd", b"x", (), [], {}, object(), 1j]


def _garbage(data, depth=0):
    """A random wrong value: scalars of any type, arrays of any dtype and layout, device
    arrays with bogus interfaces, containers of those, uninitialized instances."""
    kind = data.draw(st.integers(0, 9 if depth < 2 else 5))
    if kind <= 2:
        return data.draw(st.sampled_from(GARBAGE))
    if kind == 3:
        return _bad_host_array(data, (3,), np.dtype(np.float64), written=True)[1]
    if kind == 4:
        return _bad_device_array(data, (3,), np.dtype(np.float64), written=True)[1]
    if kind == 5:
        return data.draw(st.sampled_from([R.DOT, R(99), uninitialized(R), _core.StalePlan()]))
    if kind == 6:
        cls = data.draw(st.sampled_from([c for c in (_core.Plan, _emu and _emu.Plan) if c]))
        return uninitialized(cls)
    n = data.draw(st.integers(0, 3))
    items = [_garbage(data, depth + 1) for _ in range(n)]
    return items if kind in (7, 9) else tuple(items)


def _valid_host(shape, dtype, written):
    return np.zeros(shape, dtype) if written else np.ones(shape, dtype)


def _bad_host_array(data, shape, dtype, written, others=()):
    """(label, array) of one definite defect for a host operand of this shape and dtype
    (others: arrays of the same call it could alias)."""
    other_dtype = np.float32 if dtype == np.float64 else np.float64
    choices = {
        "list": lambda: np.ones(shape).tolist(),
        "None": lambda: None,
        "float": lambda: 1.5,
        "device array": lambda: cai(np.zeros(shape, dtype)),
        "int64": lambda: np.zeros(shape, np.int64),
        "int32": lambda: np.zeros(shape, np.int32),
        "float16": lambda: np.zeros(shape, np.float16),
        "complex": lambda: np.zeros(shape, np.complex128),
        "bool": lambda: np.zeros(shape, bool),
        "object": lambda: np.full(shape, 1.0, object),
        "big-endian": lambda: np.zeros(shape, dtype.newbyteorder(">")),
        "strided": lambda: strided(shape, dtype),
        "reversed": lambda: np.zeros(shape, dtype)[::-1] if len(shape) == 1 else strided(shape, dtype),
        "broadcast": lambda: np.broadcast_to(np.zeros(shape[-1:], dtype), shape) if len(shape) > 1
        else np.broadcast_to(np.zeros(1, dtype), shape),
        "unaligned": lambda: unaligned(shape, dtype),
    }
    if written:
        choices["read-only"] = lambda: readonly(np.zeros(shape, dtype))
        if others:
            choices["alias"] = lambda: data.draw(st.sampled_from(list(others)))
    choices["other dtype"] = lambda: np.zeros(shape, other_dtype)  # only where a param fixes it
    choices["other shape"] = lambda: np.zeros(shape + (1,), dtype)
    choices["0-d"] = lambda: np.zeros((), dtype)
    label = data.draw(st.sampled_from(sorted(choices)))
    return label, choices[label]()


def _bad_device_array(data, shape, dtype, written, others=()):
    """(label, device array) of one definite defect for a device operand."""
    host = np.zeros(shape, dtype)
    choices = {
        "host array": lambda: host,
        "None": lambda: None,
        "bogus address": lambda: cai(host, data=(data.draw(st.sampled_from(BOGUS_POINTERS)), not written)),
        "null address": lambda: cai(host, data=(0, not written)),
        "negative shape": lambda: cai(host, shape=(-1,) + shape[1:]),
        "huge shape": lambda: cai(host, shape=(2**62,)),
        "overflowing shape": lambda: cai(host, shape=(2**40, 2**40, 2**40)),
        "shape a list": lambda: cai(host, shape=list(shape)),
        "typestr garbage": lambda: cai(host, typestr=data.draw(st.sampled_from(
            ["", "<", "<f", "<fz", "f8", "<f-8", "<f99999999999999999999", "<i8", "<c16", ">f8",
             "<f2", 8]))),
        "strides wrong length": lambda: cai(host, strides=(8,) * (len(shape) + 1)),
        "strides non-contiguous": lambda: cai(np.zeros(shape[:-1] + (2 * shape[-1],), dtype),
                                              shape=shape,
                                              strides=tuple(np.zeros(shape, dtype).strides[:-1])
                                              + (2 * dtype.itemsize,)),
        "data garbage": lambda: cai(host, data=data.draw(st.sampled_from(
            [None, (), (8,), ("x", False), (-8, False), (2**64, False), 8]))),
        "masked": lambda: cai(host, mask=cai(np.ones(shape, bool))),
        "not a dict": lambda: CAI(data.draw(st.sampled_from([None, [], 5, "x"]))),
        "raising": lambda: CAI(RuntimeError("interface")),
        "missing keys": lambda: CAI({"typestr": dtype.str}),
        "int64": lambda: cai(np.zeros(shape, np.int64)),
        "unaligned": lambda: cai(unaligned(shape, dtype)),
    }
    if written:
        choices["read-only"] = lambda: cai(host, readonly=True)
        choices["code memory"] = lambda: cai(host, data=(CODE_PAGE, False))
        if others:
            choices["alias"] = lambda: data.draw(st.sampled_from(list(others)))
    label = data.draw(st.sampled_from(sorted(choices)))
    return label, choices[label]()


# Defects that are not defects everywhere: another dtype or shape is fine where the
# array fixes them itself (a param of a one-operand family, or an array of a reduction).
_RELATIVE = {"other dtype", "other shape", "0-d"}


def _draw_work(data, device, family=None):
    """A valid work (as a list, to mutate) over fresh arrays."""
    name = family or data.draw(st.sampled_from(APPLY_FAMILIES))
    spec = SPECS[name]
    flags = 0
    for bit in spec["flags"].values():
        if data.draw(st.booleans()):
            flags |= bit
    scalars = tuple(data.draw(st.floats(0.0, 0.5)) for _ in spec["scalars"])
    n = data.draw(st.integers(1, 3))
    layout = [(data.draw(st.sampled_from(SHAPES)), np.dtype(data.draw(st.sampled_from(
        [np.float32, np.float64])))) for _ in range(n)]
    operands = []
    for _, written, needs in spec["operands"]:
        if needs and not flags & needs:
            operands.append(None)
            continue
        arrays = [_valid_host(s, d, written) for s, d in layout]
        operands.append([cai(a, readonly=not written) for a in arrays] if device else arrays)
    names = data.draw(st.sampled_from([None, [f"t{i}" for i in range(n)],
                                       tuple(f"t{i}" for i in range(n))]))
    return [spec["id"], flags, scalars, operands, names], layout


def _used(spec, flags):
    return [k for k, (_, _, needs) in enumerate(spec["operands"]) if not needs or flags & needs]


def _mutate_works(data, works, layouts, device):
    """Applies one definite defect to a list of valid works (lists); returns its label
    and the works as the native layer takes them."""
    w = data.draw(st.integers(0, len(works) - 1))
    work, layout = works[w], layouts[w]
    spec = next(s for s in SPECS.values() if s["id"] == work[0])
    kinds = ["family", "flags", "scalars", "operands", "list", "names", "array", "work", "works"]
    kind = data.draw(st.sampled_from(kinds))
    label = kind
    if kind == "family":
        work[0] = data.draw(st.sampled_from([-1, len(SPECS), len(SPECS) + 7, 2**31, 2**63, 2**70,
                                             1.0, "sgd", None]))
    elif kind == "flags":
        unknown = [1 << b for b in range(len(spec["flags"]), 32)]
        work[1] = data.draw(st.sampled_from([-1, 2**32, 2**70, 0.0, None, "1"] + unknown))
    elif kind == "scalars":
        n = len(spec["scalars"])
        choices = [None, 1.0, "abc", tuple(["x"] * n) if n else None, (0.1,) * (n + 1)]
        if n:
            choices += [(0.1,) * (n - 1), (None,) * n]
        work[2] = data.draw(st.sampled_from(choices))
    elif kind == "operands":
        ops = work[3]
        work[3] = data.draw(st.sampled_from([None, 5, {"params": ops[0]}, ops[:-1],
                                             ops + [None]]))
    elif kind == "list":
        k = data.draw(st.sampled_from(_used(spec, work[1])))
        lst = work[3][k]
        choice = data.draw(st.sampled_from(["None", "array", "int", "dict", "str", "short", "long"]))
        label += ":" + choice
        work[3][k] = {"None": None, "array": lst[0] if lst else np.zeros(3), "int": 5,
                      "dict": {0: lst[0]}, "str": "abc", "short": lst[:-1],
                      "long": lst + [lst[0]]}[choice]
    elif kind == "names":
        n = len(work[3][0])
        work[4] = data.draw(st.sampled_from([5, [f"t{i}" for i in range(n + 1)],
                                             [f"t{i}" for i in range(n - 1)], 1.5]))
    elif kind == "array":
        used = _used(spec, work[1])
        k = data.draw(st.sampled_from(used))
        i = data.draw(st.integers(0, len(layout) - 1))
        shape, dtype = layout[i]
        written = spec["operands"][k][1]
        others = [work[3][j][i] for j in used if j != k]
        make = _bad_device_array if device else _bad_host_array
        label, bad = make(data, shape, dtype, written, others)
        if label in _RELATIVE and (k == 0 or len(used) == 1):
            label, bad = "None", None  # k = 0 fixes dtype and shape: use a plain defect
        work[3][k][i] = bad
        label = f"array {spec['operands'][k][0]}[{i}]: {label}"
    elif kind == "work":
        choice = data.draw(st.sampled_from(["list", "short", "long", "None"]))
        label += ":" + choice
        works[w] = {"list": work, "short": tuple(work[:4]), "long": tuple(work) + (None,),
                    "None": None}[choice]
    if kind != "work":
        works[w] = tuple(work[:3]) + (tuple(work[3]) if isinstance(work[3], list) else work[3],
                                      work[4])
    others = [tuple(x[:3]) + (tuple(x[3]), x[4]) if isinstance(x, list) else x
              for j, x in enumerate(works) if j != w]
    out = others[:w] + [works[w]] + others[w:]
    if kind == "works":
        label += ":" + data.draw(st.sampled_from(["tuple", "None", "work"]))
        out = {"works:tuple": tuple(out), "works:None": None, "works:work": out[0]}[label]
    return label, out


def _valid_works(data, device):
    works, layouts = [], []
    for _ in range(data.draw(st.integers(1, 2))):
        work, layout = _draw_work(data, device)
        works.append(work)
        layouts.append(layout)
    return works, layouts


def _as_tuples(works):
    return [tuple(w[:3]) + (tuple(w[3]), w[4]) for w in works]


def _fuzz_works(fn, device):
    def fuzz(data):
        works, layouts = _valid_works(data, device)
        if data.draw(st.integers(0, 5)) == 0:
            return fn, (_as_tuples(works),), False
        label, bad = _mutate_works(data, works, layouts, device)
        return fn, (bad,), True
    return fuzz


def fuzz_run(data):
    return _fuzz_works(_core.run, False)(data)


def fuzz_validate(data):
    return _fuzz_works(_core.validate, False)(data)


def fuzz_plan(data):
    return _fuzz_works(_core.Plan, False)(data)


# The families whose operand 1 is the gradient a Plan takes anew on each run.
PLAN_FAMILIES = [n for n in APPLY_FAMILIES if len(SPECS[n]["operands"]) > 1]


def _fuzz_plan_run(module, device):
    def fuzz(data):
        works, layouts = [], []
        for _ in range(data.draw(st.integers(1, 2))):
            work, layout = _draw_work(data, device, data.draw(st.sampled_from(PLAN_FAMILIES)))
            works.append(work)
            layouts.append(layout)
        plan = module.Plan(_as_tuples(works))
        grads = [g for w in works for g in w[3][1]]
        scalars = [tuple(w[2]) for w in works]
        extra = (0,) if device else ()
        kind = data.draw(st.sampled_from(["none", "grads", "grad", "scalars", "stream"]))
        if kind == "none" or (kind == "stream" and not device):
            return plan.run, (grads, scalars) + extra, False
        if kind == "grads":
            bad = data.draw(st.sampled_from(["tuple", "short", "long", "None"]))
            grads = {"tuple": tuple(grads), "short": grads[:-1], "long": grads + grads[:1],
                     "None": None}[bad]
        elif kind == "grad":
            t = data.draw(st.integers(0, len(grads) - 1))
            shape, dtype = [x for lay in layouts for x in lay][t]
            params = [p for w in works for p in w[3][0]]
            make = _bad_device_array if device else _bad_host_array
            label, bad = make(data, shape, dtype, False)
            if label in ("alias",):
                bad = None
            if data.draw(st.booleans()):
                bad = params[t]  # a grad that is its own param (or another param)
            grads = list(grads)
            grads[t] = bad
        elif kind == "scalars":
            w = data.draw(st.integers(0, len(scalars) - 1))
            n = len(scalars[w])
            bad = data.draw(st.sampled_from(["short", "long", "eleven", "list", "str", "None",
                                             "outer tuple", "outer short"]))
            s = list(scalars)
            if bad == "outer tuple":
                scalars = tuple(s)
            elif bad == "outer short":
                scalars = s[:-1]
            else:
                s[w] = {"short": (0.1,) * (n - 1) if n else (0.1,), "long": (0.1,) * (n + 1),
                        "eleven": (0.1,) * 11, "list": list(s[w]) + [0.1],
                        "str": ("x",) * max(n, 1), "None": None}[bad]
                scalars = s
        else:
            extra = (data.draw(st.sampled_from([-1, 2**64, "x", None, 0.5])),)
        return plan.run, (grads, scalars) + extra, True
    return fuzz


def fuzz_plan_run(data):
    return _fuzz_plan_run(_core, False)(data)


def _fuzz_reduce(device):
    def fuzz(data):
        kind = data.draw(st.sampled_from(list(R.__members__.values())))
        n = data.draw(st.integers(1, 3))
        layout = [(data.draw(st.sampled_from(SHAPES)), np.dtype(data.draw(st.sampled_from(
            [np.float32, np.float64])))) for _ in range(n)]
        mk = (lambda a: cai(a, readonly=True)) if device else (lambda a: a)
        arrays = [mk(np.ones(s, d)) for s, d in layout]
        others = [mk(np.ones(s, d)) for s, d in layout] if kind == R.DOT else None
        names = None
        scalar = 2.0
        make_out = lambda m: cai(np.zeros(m))  # noqa: E731
        defect = data.draw(st.sampled_from(["none", "kind", "arrays", "array", "scalar", "names",
                                            "others", "out", "stream"]))
        if defect == "kind":
            kind = data.draw(st.sampled_from([R(99), R(-1), R(len(R.__members__)), None, "DOT"]
                                             + ([0.5, 2**70, -1] if device else [0])))
        elif defect == "arrays":
            arrays = data.draw(st.sampled_from([None, 5, tuple(arrays), "abc"]))
        elif defect == "array":
            i = data.draw(st.integers(0, n - 1))
            make = _bad_device_array if device else _bad_host_array
            label, bad = make(data, layout[i][0], layout[i][1], False)
            if label in _RELATIVE or label == "alias":
                bad = None
            arrays[i] = bad
        elif defect == "scalar":
            scalar = data.draw(st.sampled_from([None, "x", [], 1j]))
        elif defect == "names":
            names = data.draw(st.sampled_from([5, ["a"] * (n + 1), ["a"] * (n - 1), 1.5]))
        elif defect == "others":
            if kind != R.DOT:
                kind = R.DOT
            others = data.draw(st.sampled_from([None, 5, [], [mk(np.ones(4))] * n,
                                                [mk(np.ones((n + 1, 2)))] * n]))
        elif defect == "out" and device:
            make_out = data.draw(st.sampled_from([
                5, None, lambda m: None, lambda m: np.zeros(m), lambda m: cai(np.zeros(m, np.float32)),
                lambda m: cai(np.zeros(m), readonly=True), lambda m: cai(np.zeros(max(m - 1, 0))),
                lambda m: CAI({"shape": (m,), "typestr": "<f8", "data": (8, False)}),
                lambda m: CAI({"shape": (m,), "typestr": "<f8", "data": (CODE_PAGE, False)}),
                lambda m: arrays[0]]))
        elif defect == "stream" and device:
            return (_emu.reduce, (kind, arrays, scalar, names, others, make_out,
                                  data.draw(st.sampled_from([-1, 2**64, None]))), True)
        else:
            defect = "none"
        if device:
            return _emu.reduce, (kind, arrays, scalar, names, others, make_out, 0), defect != "none"
        return _core.reduce, (kind, arrays, scalar, names, others), defect != "none"
    return fuzz


def fuzz_reduce(data):
    return _fuzz_reduce(False)(data)


def _fuzz_check_params(module, device):
    def fuzz(data):
        n = data.draw(st.integers(1, 4))
        layout = [(data.draw(st.sampled_from(SHAPES)), np.dtype(data.draw(st.sampled_from(
            [np.float32, np.float64])))) for _ in range(n)]
        arrays = [np.zeros(s, d) for s, d in layout]
        if device:
            arrays = [cai(a) for a in arrays]
        names = data.draw(st.sampled_from([None, [str(i) for i in range(n)]]))
        defect = data.draw(st.sampled_from(["none", "arrays", "array", "names", "overlap"]))
        if defect == "arrays":
            arrays = data.draw(st.sampled_from([None, 5, 1.5]))
        elif defect == "array":
            i = data.draw(st.integers(0, n - 1))
            make = _bad_device_array if device else _bad_host_array
            label, bad = make(data, layout[i][0], layout[i][1], True, arrays[:i] + arrays[i + 1:])
            if label in _RELATIVE:
                bad = None
            arrays[i] = bad
        elif defect == "names":
            names = data.draw(st.sampled_from([5, [str(i) for i in range(n + 1)],
                                               [str(i) for i in range(n - 1)]]))
        elif defect == "overlap":
            buf = np.zeros(10)
            pair = [buf[:6], buf[4:]]
            arrays = arrays + ([cai(a) for a in pair] if device else pair)
            if names is not None:
                names = names + ["x", "y"]
        return module.check_params, (arrays, names), defect != "none"
    return fuzz


def fuzz_check_params(data):
    return _fuzz_check_params(_core, False)(data)


def fuzz_softmax_xent(data):
    n, c = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 6))
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64])))
    logits = np.asarray(np.random.default_rng(n * c).standard_normal((n, c)), dtype)
    labels = data.draw(st.booleans())
    targets = (np.array([data.draw(st.integers(0, c - 1)) for _ in range(n)], np.int64) if labels
               else np.full((n, c), 1.0 / c, dtype))
    scale = 1.0
    defect = data.draw(st.sampled_from(["none", "logits", "targets", "label", "scale"]))
    if defect == "logits":
        label, bad = _bad_host_array(data, (n, c), dtype, False)
        if label == "other dtype":
            bad = logits.astype(np.int16)
        if label == "other shape" and labels:
            bad = np.zeros((n, c, 1), dtype)
        logits = bad
    elif defect == "targets":
        shape = (n,) if labels else (n, c)
        tdtype = np.dtype(np.int64) if labels else dtype
        label, bad = _bad_host_array(data, shape, tdtype, False)
        if label in ("other dtype",) and labels:
            bad = np.zeros(shape, np.float64)
        if label == "int64" and labels:
            bad = np.zeros(shape, np.uint64)
        if label == "0-d" and labels:
            bad = np.zeros((), np.int64)
        targets = bad
    elif defect == "label":
        if not labels:
            targets = np.zeros(n, np.int64)
        i = data.draw(st.integers(0, n - 1))
        targets[i] = data.draw(st.sampled_from([c, c + 1, -1, -c, 10**9, 2**62, -2**63, 2**63 - 1]))
    elif defect == "scale":
        scale = data.draw(st.sampled_from([None, "x", [], 1j]))
    return _core.softmax_xent, (logits, targets, scale), defect != "none"


def fuzz_set_num_threads(data):
    bad = data.draw(st.booleans())
    if not bad:
        return _core.set_num_threads, (data.draw(st.integers(1, 4)),), False
    return _core.set_num_threads, (data.draw(st.sampled_from(
        [0, -1, -2**31, MAX_THREADS + 1, 10**6, 2**31 - 1, 2**31, 2**63, 2**70, 1.5, None, "2"])),), True


def fuzz_set_isa(data):
    supported = _core.build_info()["isa_supported"]
    if data.draw(st.booleans()):
        return _core.set_isa, (data.draw(st.sampled_from(supported)),), False
    return _core.set_isa, (data.draw(st.sampled_from(
        ["", "AVX2", "avx1024", "scalar\0", " scalar", "sse", None, 2, 1.5])),), True


class _RaisingEq:
    def __eq__(self, other):
        raise ValueError("no comparison")

    __hash__ = object.__hash__


def _self_containing_list():
    a = [0.1]
    a.append(a)
    return a


def fuzz_same_key(data):
    """Any pair of keys, nested lists and tuples deeper than any hyperparameter and
    lists that contain themselves included: the answer is a bool, never a crash."""
    def key(depth=0):
        kind = data.draw(st.integers(0, 4 if depth < 40 else 1))
        if kind == 0:
            return _garbage(data, 2)
        if kind == 1:
            return data.draw(st.sampled_from([0.1, 1, True, None, "x", _self_containing_list()]))
        items = [key(depth + 1) for _ in range(data.draw(st.integers(1, 2)))]
        return tuple(items) if kind == 2 else items
    return _core.same_key, (key(), key()), False


def _fuzz_no_args(fn):
    def fuzz(data):
        n = data.draw(st.integers(0, 2))
        args = tuple(_garbage(data) for _ in range(n))
        return fn, args, n > 0
    return fuzz


def fuzz_pack_layout(data):
    numels = data.draw(st.lists(st.integers(0, 3 * 65536), max_size=6))
    elem, k = data.draw(st.sampled_from([4, 8])), data.draw(st.integers(1, 5))
    defect = data.draw(st.sampled_from(["none", "numels", "numel", "elem_size", "n_operands"]))
    if defect == "numels":
        numels = data.draw(st.sampled_from([None, 5, "abc", [1.5], [None]]))
    elif defect == "numel":
        numels = numels + [data.draw(st.sampled_from([-1, 2**62, 2**63, 2**64 - 1, 2**64, 2**70]))]
    elif defect == "elem_size":
        elem = data.draw(st.sampled_from([0, 1, 3, 5, 16, -4, 2**64, None]))
    elif defect == "n_operands":
        k = data.draw(st.sampled_from([0, -1, 6, 2**31, 2**40, None]))
    return _emu.pack_layout, (numels, elem, k), defect != "none"


def _fuzz_garbage(entry):
    """Any entry point with wrong arguments of any type: must not crash."""
    def fuzz(data):
        fn = resolve(entry)
        n = data.draw(st.integers(0, 4))
        return fn, tuple(_garbage(data) for _ in range(n)), False
    return fuzz


def _fuzzers():
    f = {
        "_core.run": fuzz_run,
        "_core.validate": fuzz_validate,
        "_core.Plan": fuzz_plan,
        "_core.Plan.run": fuzz_plan_run,
        "_core.reduce": fuzz_reduce,
        "_core.check_params": fuzz_check_params,
        "_core.softmax_xent": fuzz_softmax_xent,
        "_core.set_num_threads": fuzz_set_num_threads,
        "_core.set_isa": fuzz_set_isa,
        "_core.get_isa": _fuzz_no_args(_core.get_isa),
        "_core.get_num_threads": _fuzz_no_args(_core.get_num_threads),
        "_core.build_info": _fuzz_no_args(_core.build_info),
        "_core.kernel_specs": _fuzz_no_args(_core.kernel_specs),
        "_core.same_key": fuzz_same_key,
    }
    if _emu is not None:
        f.update({
            "_cuda_emulator.run": _fuzz_works(lambda w: _emu.run(w, 0), True),
            "_cuda_emulator.validate": _fuzz_works(_emu.validate, True),
            "_cuda_emulator.Plan": _fuzz_works(_emu.Plan, True),
            "_cuda_emulator.Plan.run": _fuzz_plan_run(_emu, True),
            "_cuda_emulator.reduce": _fuzz_reduce(True),
            "_cuda_emulator.check_params": _fuzz_check_params(_emu, True),
            "_cuda_emulator.pack_layout": fuzz_pack_layout,
            "_cuda_emulator.device_info": _fuzz_no_args(_emu.device_info),
        })
    # Every entry point, the ones above included, also takes arguments of any type.
    garbage = {f"{e} (any arguments)": _fuzz_garbage(e) for e in GARBAGE_ENTRIES if
               e.split(".")[0] in MODULES and MODULES[e.split(".")[0]] is not None}
    f.update(garbage)
    return f


# The entry points fuzzed with arguments of any type (all of them: listed, not
# derived, so that a new one shows up in test_every_entry_point_is_fuzzed).
GARBAGE_ENTRIES = [
    "_core.Plan", "_core.Plan.__init__", "_core.Plan.__len__", "_core.Plan.run",
    "_core.Plan._pybind11_conduit_v1_",
    "_core.Reduction", "_core.Reduction.__init__", "_core.Reduction.__doc__",
    "_core.Reduction._pybind11_conduit_v1_", "_core.Reduction.__repr__", "_core.Reduction.name",
    "_core.Reduction.__str__", "_core.Reduction.__members__", "_core.Reduction.__getstate__",
    "_core.Reduction.__hash__", "_core.Reduction.value", "_core.Reduction.__eq__",
    "_core.Reduction.__ne__", "_core.Reduction.__int__", "_core.Reduction.__index__",
    "_core.Reduction.__setstate__",
    "_core.StalePlan", "_core.build_info", "_core.check_params", "_core.get_isa",
    "_core.get_num_threads", "_core.kernel_specs", "_core.reduce", "_core.run", "_core.same_key",
    "_core.set_isa", "_core.set_num_threads", "_core.softmax_xent", "_core.validate",
    "_cuda_emulator.Plan", "_cuda_emulator.Plan.__init__", "_cuda_emulator.Plan.__len__",
    "_cuda_emulator.Plan.run", "_cuda_emulator.Plan._pybind11_conduit_v1_",
    "_cuda_emulator.StalePlan", "_cuda_emulator.check_params", "_cuda_emulator.device_info",
    "_cuda_emulator.pack_layout", "_cuda_emulator.reduce", "_cuda_emulator.run",
    "_cuda_emulator.validate",
]

FUZZERS = _fuzzers()


def fuzzed_entries() -> set[str]:
    """The entry points the fuzzers cover (a fuzzer's name, less any suffix)."""
    return {name.split(" ")[0] for name in FUZZERS}


def known_bad_entries() -> set[str]:
    return {case[0] for case in KNOWN_BAD}


# ------------------------------------------------------------------ the child
EXAMPLES = int(os.environ.get("FUSEDOPTIM_FUZZ_EXAMPLES", "40"))
CASE_TIMEOUT_S = 60  # a call that runs longer is reported as a hang


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _restore_runtime(threads, isa):
    _core.set_num_threads(threads)
    _core.set_isa(isa)


def _run_known(start):
    threads, isa = _core.get_num_threads(), _core.get_isa()
    for i in range(start, len(KNOWN_BAD)):
        entry, what, call, expected = KNOWN_BAD[i]
        _say(f"@@START {i}")
        _say(f"@@CALL {entry}: {what}")
        faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
        try:
            call()
            status = {"ok": False, "why": "no exception"}
        except BaseException as e:  # noqa: B902 - anything but a crash is reported
            name = f"{type(e).__module__}.{type(e).__qualname__}"
            ok = isinstance(e, expected) and not isinstance(e, SystemError)
            status = {"ok": ok, "why": f"{name}: {e}"[:400]}
        finally:
            faulthandler.cancel_dump_traceback_later()
            _restore_runtime(threads, isa)
        _say(f"@@DONE {i} {json.dumps(status)}")


def _explain(e: BaseException) -> str:
    """The message of a failure, and of each failure hypothesis grouped in it."""
    text = "".join(traceback.format_exception_only(type(e), e))
    for sub in getattr(e, "exceptions", ()):
        text += "\n- " + _explain(sub)
    return text


def _run_fuzz(start):
    from hypothesis import HealthCheck, Phase, given, settings

    threads, isa = _core.get_num_threads(), _core.get_isa()
    names = list(FUZZERS)
    for i in range(start, len(names)):
        name = names[i]
        fuzzer = FUZZERS[name]
        _say(f"@@START {i}")
        counts = {"raised": 0, "returned": 0}

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
        @given(st.data())
        def check(data):
            fn, args, must_raise = fuzzer(data)
            _say(f"@@CALL {name}: {describe(args)}")
            faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
            try:
                fn(*args)
            except SystemError as e:
                raise AssertionError(f"SystemError (a C-API misuse) from {describe(args)}: {e}")
            except Exception:  # noqa: BLE001 - raising is what wrong input must do
                counts["raised"] += 1
                return
            finally:
                faulthandler.cancel_dump_traceback_later()
                _restore_runtime(threads, isa)
            counts["returned"] += 1
            if must_raise:
                raise AssertionError(f"accepted a wrong call: {describe(args)}")

        try:
            check()
            status = {"ok": True, "why": f"{counts}"}
        except BaseException as e:  # noqa: B902
            status = {"ok": False, "why": _explain(e)[-3000:]}
        _say(f"@@DONE {i} {json.dumps(status)}")


if __name__ == "__main__":
    faulthandler.enable()
    mode, first = sys.argv[1], int(sys.argv[2])
    {"known": _run_known, "fuzz": _run_fuzz}[mode](first)
