"""What the native fuzz tests (tests/test_native_fuzz.py) share: every entry point of
the compiled modules, and the makers of wrong arrays and device arrays.

What counts as bad input is what a caller can pass: Python objects of any type,
NumPy arrays of any dtype, shape and layout, and objects with any
__cuda_array_interface__ (the emulator treats their addresses as host memory, so
it checks them against the process's mappings). An array that lies about its
memory inside memory the process has mapped (NumPy's as_strided past its buffer,
an interface claiming more than its allocation) cannot be told from a good one,
by fusedoptim or by NumPy, and is out of scope.
"""
from __future__ import annotations

import ctypes

import numpy as np

from fusedoptim import _core

try:
    from fusedoptim import _cuda_emulator as _emu
except ImportError:  # built with -DFUSEDOPTIM_CUDA_EMULATOR=OFF
    _emu = None

MODULES = {"_core": _core, "_cuda_emulator": _emu}
SPECS = _core.kernel_specs()
# Plain updates (run, Plan); the updates that also sum run through apply_sums only, and
# Adafactor's spec (a multi-pass step) through its own entry points.
APPLY_FAMILIES = [n for n in SPECS
                  if n not in ("reduce", "dot", "adafactor") and SPECS[n]["sums"] == 0]
SUM_FAMILIES = [n for n in SPECS if SPECS[n]["sums"] > 0]
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
