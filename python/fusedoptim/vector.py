"""Vector operations over lists of arrays, each one native call over all arrays
(threads over chunks of all of them, SIMD): the vector work of the second-order
methods (L-BFGS's two-loop recursion, conjugate gradients, per-coordinate Newton).

Lists are aligned (same length, each pair of the same shape and dtype); arrays are
float32 or float64 and C-contiguous; everything is checked before anything changes.
Sums are accumulated in float64 per chunk and the chunks added in order, so results
do not depend on the thread count. CUDA device arrays run on the GPU (the CUDA build).
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from . import _backends
from . import _native
from ._typing import ArrayList, Names, Work

_SPEC = _native.SPECS
_R = _native._core.Reduction


def _lists(*pairs: tuple[str, Any]) -> list[list[Any]]:
    out = []
    for name, value in pairs:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name}: expected a list of arrays, got {type(value).__name__}")
        out.append(list(value))
    return out


_run = _backends.run


def _real(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    return float(value)


def dot(xs: ArrayList, ys: ArrayList) -> float:
    """sum_i sum(xs[i] * ys[i])."""
    xs, ys = _lists(("xs", xs), ("ys", ys))
    return _backends.for_arrays(xs).reduce(_R.DOT, xs, 1.0, ys)


def axpy_(alpha: float, xs: ArrayList, ys: ArrayList) -> None:
    """ys[i] += alpha * xs[i], in place."""
    xs, ys = _lists(("xs", xs), ("ys", ys))
    _run([(_SPEC["axpy"]["id"], 0, (_real("alpha", alpha),), [ys, xs], None)])


def scale_(xs: ArrayList, alpha: float) -> None:
    """xs[i] *= alpha, in place."""
    (xs,) = _lists(("xs", xs))
    _run([(_SPEC["scale"]["id"], 0, (_real("alpha", alpha),), [xs], None)])


def copy_(dst: ArrayList, src: ArrayList) -> None:
    """dst[i][...] = src[i]."""
    dst, src = _lists(("dst", dst), ("src", src))
    _run([(_SPEC["copy"]["id"], 0, (), [dst, src], None)])


def diag_newton_work(params: ArrayList, grads: ArrayList, hess_diags: ArrayList, *, lr: float = 1.0,
                     min_curvature: float = 1e-8, names: Names = None) -> Work:
    """The work of :func:`diag_newton_` (its scalars checked), for running several in one
    native call: everything of every work is checked before any array changes."""
    params, grads, hess_diags = _lists(("params", params), ("grads", grads),
                                       ("hess_diags", hess_diags))
    lr, floor = _real("lr", lr), _real("min_curvature", min_curvature)
    if not 0 <= lr < math.inf:
        raise ValueError(f"lr: must be a finite number >= 0, got {lr!r}")
    if not 0 < floor < math.inf:
        raise ValueError(f"min_curvature: must be a finite number > 0, got {min_curvature!r}")
    return (_SPEC["diag_newton"]["id"], 0, (lr, floor), [params, grads, hess_diags], names)


def diag_newton_(params: ArrayList, grads: ArrayList, hess_diags: ArrayList, *, lr: float = 1.0,
                 min_curvature: float = 1e-8) -> None:
    r"""Per-coordinate Newton step in place:
    :math:`p \leftarrow p - \eta\, g / \max(|h|, h_{min})` — the optimal step 1/E'' of a
    diagonal Hessian, with negative curvature taken by its magnitude and tiny curvature
    floored at ``min_curvature``."""
    _run([diag_newton_work(params, grads, hess_diags, lr=lr, min_curvature=min_curvature)])


__all__ = ["dot", "axpy_", "scale_", "copy_", "diag_newton_"]
