"""NumPy twins of :mod:`fusedoptim.clip`, written from the definitions; arguments and
arrays are checked by fusedoptim.clip's own checks, before anything is written."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import clip as _clip
from .._typing import Arrays


def global_norm(arrays: Sequence[np.ndarray], norm_type: float = 2.0) -> float:
    flat = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays] or [np.zeros(0)])
    if math.isinf(norm_type):
        return float(np.max(np.abs(flat))) if flat.size else 0.0
    return float(np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(grads: Arrays, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    grads, _ = _clip.check_clip_norm(grads, max_norm, norm_type)
    norm = global_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(norm):
        raise _clip.nonfinite_norm_error(norm, norm_type)
    factor = min(1.0, max_norm / (norm + 1e-6))
    for g in grads:
        g *= g.dtype.type(factor)
    return norm


def clip_grad_value_(grads: Arrays, clip_value: float) -> None:
    grads, _ = _clip.check_clip_value(grads, clip_value)
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)


def all_finite(arrays: Sequence[np.ndarray]) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays)
