"""The one module that imports the compiled core.

A failed import is an error, never a silent fall back to a slow path: a broken
build must be noticed.
"""
from __future__ import annotations

from typing import Any

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - exercised only by broken installs
    raise ImportError(
        "fusedoptim's compiled extension (fusedoptim._core) could not be imported; "
        "reinstall with `pip install .` from the source tree. Original error: " + str(exc)
    ) from exc

run = _core.run
Plan = _core.Plan
StalePlan = _core.StalePlan
same_key = _core.same_key
validate = _core.validate
apply_sums = _core.apply_sums
set_isa = _core.set_isa
get_isa = _core.get_isa

#: family name -> {"id", "operands": [(name, written, needs_flag)], "scalars": [...], "flags": {name: bit}}
SPECS = _core.kernel_specs()


def build_info() -> dict[str, Any]:
    """What was compiled and what runs: compiler, OpenMP, threads, ISA paths, and under
    "cuda" whether the CUDA extension is built, its architectures and the device."""
    from ._backends import cuda_info  # _backends imports this module

    return {**_core.build_info(), "cuda": cuda_info()}


def get_num_threads() -> int:
    """Threads the kernels use (OMP_NUM_THREADS or the core count unless set)."""
    return _core.get_num_threads()


def set_num_threads(n: int) -> None:
    """Set the kernels' thread count (n >= 1). Results do not depend on it, bit for bit."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an int >= 1, got {n!r}")
    _core.set_num_threads(n)
