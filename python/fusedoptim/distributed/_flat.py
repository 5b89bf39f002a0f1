"""Flat buffers: params allocated as views of one buffer, finding runs of arrays that
already are consecutive views of one buffer (reduced without a copy), and the native
multi-tensor copies between a list of arrays and one buffer."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_arrays(arrays: Sequence[Any], label: str, writeable: bool) -> None:
    """TypeError/ValueError naming ``label[i]`` unless every array is a C-contiguous
    float32/float64 NumPy array (writeable when the call updates it in place)."""
    for i, a in enumerate(arrays):
        name = f"{label}[{i}]"
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name}: expected a NumPy array, got {type(a).__name__} "
                            "(fusedoptim.distributed moves host arrays)")
        if a.dtype not in FLOATS:
            raise TypeError(f"{name}: dtype {a.dtype} is not supported (float32 or float64)")
        if not a.flags.c_contiguous:
            raise ValueError(f"{name}: must be C-contiguous (it is updated in place; a copy "
                             "would leave the caller's array unchanged)")
        if writeable and not a.flags.writeable:
            raise ValueError(f"{name}: is read-only; it is updated in place")


def as_list(arrays: Any, label: str) -> tuple[list[Any], list[Any] | None]:
    """A list or dict of arrays as (list, keys or None)."""
    if isinstance(arrays, np.ndarray) or not hasattr(arrays, "__iter__"):
        raise TypeError(f"{label}: expected a list or dict of arrays, got {type(arrays).__name__}")
    if isinstance(arrays, Mapping):
        return list(arrays.values()), list(arrays.keys())
    return list(arrays), None


def flat_params(shapes: Any, dtype: Any = np.float32) -> Any:
    """Arrays of the given shapes (a list of shapes, or a dict name -> shape), allocated as
    consecutive views of one zeroed 1-D buffer of ``dtype`` (``arrays[0].base``).

    Params (or grads) made so are reduced, broadcast and gathered in place, with no
    packing copy. Returns a list, or a dict with the same keys."""
    dt = np.dtype(dtype)
    if dt not in FLOATS:
        raise TypeError(f"dtype: {dt} is not supported (float32 or float64)")
    items, keys = as_list(shapes, "shapes")
    norm = []
    for i, s in enumerate(items):
        shape = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
        if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
            raise ValueError(f"shapes[{i}]: expected a shape of integers >= 0, got {s!r}")
        norm.append(tuple(int(d) for d in shape))
    sizes = [int(np.prod(s, dtype=np.int64)) for s in norm]
    buf = np.zeros(sum(sizes), dtype=dt)
    out, at = [], 0
    for shape, size in zip(norm, sizes):
        out.append(buf[at:at + size].reshape(shape))
        at += size
    return dict(zip(keys, out)) if keys is not None else out


def flat_runs(arrays: Sequence[np.ndarray]) -> list[tuple[int, int, np.ndarray | None]]:
    """The arrays cut into runs (start, stop, flat view or None): a run of two or more
    arrays that are consecutive views of one buffer comes with the 1-D view covering them
    (reduced in place); every other array is a run of its own with None."""
    runs: list[tuple[int, int, np.ndarray | None]] = []
    i, n = 0, len(arrays)
    while i < n:
        j = i + 1
        while j < n and _follows(arrays[j - 1], arrays[j]):
            j += 1
        view = _covering(arrays[i:j]) if j - i > 1 else None
        if view is None:
            runs.extend((k, k + 1, None) for k in range(i, j))
        else:
            runs.append((i, j, view))
        i = j
    return runs


def _follows(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.dtype == b.dtype and a.base is not None and a.base is b.base
            and a.ctypes.data + a.nbytes == b.ctypes.data)


def _covering(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D view of the common base buffer holding these consecutive arrays."""
    base = arrays[0].base
    if (not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous
            or base.dtype != arrays[0].dtype or not base.flags.writeable):
        return None
    start = (arrays[0].ctypes.data - base.ctypes.data) // base.itemsize
    stop = start + sum(a.size for a in arrays)
    if start < 0 or stop > base.size:
        return None
    return base[start:stop]


def pack(arrays: Sequence[np.ndarray], out: np.ndarray, offset: int = 0) -> int:
    """Copy the arrays back to back into ``out[offset:]`` (one native multi-tensor pass)."""
    return int(_core.pack(list(arrays), out, offset))


def unpack(flat: np.ndarray, arrays: Sequence[np.ndarray], offset: int = 0,
           scale: float = 1.0) -> int:
    """``arrays[k][...] = flat[o_k:o_k + size_k] * scale`` from ``offset`` on (one native pass)."""
    return int(_core.unpack(flat, list(arrays), offset, scale))

