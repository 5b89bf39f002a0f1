"""Multi-tensor utilities: norms, clipping and finiteness over a list of arrays, each
one native call over all arrays (threads over chunks of all of them, SIMD).

Norms are accumulated in float64 per chunk and the chunks added in order, so the
result is the same for any thread count. Clipping scales or clamps in place.
CUDA device arrays run on the GPU (the CUDA build); a norm's value then waits for
the GPU, as any number the host reads must.
"""
from __future__ import annotations

import math
import numbers

from typing import Any

import numpy as np

from . import _backends
from . import _native
from ._typing import Arrays

_R = _native._core.Reduction
_SPEC = _native.SPECS


def _reduce(kind: Any, arrays: list[Any], scalar: float) -> float:
    return _backends.for_arrays(arrays).reduce(kind, arrays, scalar)


def _as_list(arrays: Arrays, what: str) -> list[Any]:
    if isinstance(arrays, np.ndarray) or _backends.is_device_array(arrays):
        return [arrays]
    if isinstance(arrays, (list, tuple)):
        return list(arrays)
    raise TypeError(f"{what}: expected an array or a list of arrays, got {type(arrays).__name__}")


def _norm_type(norm_type: float) -> float:
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"norm_type: expected a number, got {norm_type!r}")
    p = float(norm_type)
    if not p > 0:
        raise ValueError(f"norm_type: must be > 0 (or inf), got {norm_type!r}")
    return p


def global_norm(arrays: Arrays, norm_type: float = 2.0) -> float:
    """The norm of all elements of all arrays taken together (L2 by default; any p > 0,
    or inf for the largest magnitude). NaN if any element is NaN."""
    arrays = _as_list(arrays, "arrays")
    p = _norm_type(norm_type)
    if math.isinf(p):
        return _reduce(_R.MAX_ABS, arrays, 1.0)
    if p == 2.0:
        sq = _reduce(_R.SUM_SQUARES, arrays, 1.0)
        if 0.0 < sq < math.inf and sq > 1e-280:
            return math.sqrt(sq)
        # Overflow, underflow (or NaN): rescale by the largest magnitude and retry.
        m = _reduce(_R.MAX_ABS, arrays, 1.0)
        if m == 0.0 or not math.isfinite(m):
            return m if m == m else math.nan
        return m * math.sqrt(_reduce(_R.SUM_SQUARES, arrays, 1.0 / m))
    return _reduce(_R.SUM_POW, arrays, p) ** (1.0 / p)


def check_clip_norm(grads: Arrays, max_norm: float, norm_type: float) -> tuple[list[Any], Any]:
    """Everything of a clip_grad_norm_ call checked, nothing read or written: the grads
    as a list, and their backend (shared with the NumPy twin, fusedoptim.reference.clip)."""
    grads = _as_list(grads, "grads")
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real) or not max_norm >= 0:
        raise ValueError(f"max_norm: must be a number >= 0, got {max_norm!r}")
    _norm_type(norm_type)
    backend = _backends.for_arrays(grads)
    backend.validate([(_SPEC["scale"]["id"], 0, (1.0,), [grads], None)])
    return grads, backend


def nonfinite_norm_error(norm: float, norm_type: float) -> RuntimeError:
    return RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is {norm}; "
                        "pass error_if_nonfinite=False to clip anyway")


def check_clip_value(grads: Arrays, clip_value: float,
                     arrays: bool = True) -> tuple[list[Any], Any]:
    """A clip_grad_value_ call checked (its arrays too unless ``arrays`` is False: the
    native run checks them itself before writing): the grads as a list, and their backend."""
    grads = _as_list(grads, "grads")
    if isinstance(clip_value, bool) or not isinstance(clip_value, numbers.Real) \
            or not clip_value >= 0:
        raise ValueError(f"clip_value: must be a number >= 0, got {clip_value!r}")
    backend = _backends.for_arrays(grads)
    if arrays:
        backend.validate([(_SPEC["clamp"]["id"], 0, (float(clip_value),), [grads], None)])
    return grads, backend


def clip_grad_norm_(grads: Arrays, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale the grads in place so that their global norm is at most ``max_norm``, as
    torch.nn.utils.clip_grad_norm_: factor ``min(1, max_norm / (norm + 1e-6))``.
    Returns the norm before clipping."""
    grads, backend = check_clip_norm(grads, max_norm, norm_type)  # before reading anything
    norm = global_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(norm):
        raise nonfinite_norm_error(norm, norm_type)
    factor = min(1.0, float(max_norm) / (norm + 1e-6)) if norm == norm else math.nan
    if factor != 1.0:
        backend.run([(_SPEC["scale"]["id"], 0, (factor,), [grads], None)])
    return norm


def clip_grad_value_(grads: Arrays, clip_value: float) -> None:
    """Clamp every element of the grads to [-clip_value, clip_value] in place (NaN stays)."""
    grads, backend = check_clip_value(grads, clip_value, arrays=False)
    backend.run([(_SPEC["clamp"]["id"], 0, (float(clip_value),), [grads], None)])


def all_finite(arrays: Arrays) -> bool:
    """True when no element of any array is NaN or infinite (skip a step on overflow)."""
    return _reduce(_R.FINITE_PROBE, _as_list(arrays, "arrays"), 1.0) == 0.0


__all__ = ["global_norm", "clip_grad_norm_", "clip_grad_value_", "all_finite"]
