"""a * b + c rounded once, as the native kernels' fused multiply-add (torch.lerp's, see
csrc/optimizers/kernel_common.h)."""
from __future__ import annotations

from typing import Any

import numpy as np

#: values per float64 block: the widened temporaries stay small (the benchmark's NumPy
#: baseline is this reference, and its memory model counts float32-sized temporaries)
_BLOCK = 1 << 16


def fma(a: Any, b: Any, c: np.ndarray) -> np.ndarray:
    """For float32 (and narrower) arrays, exactly the kernels' result in all but about one
    value in 2**29: the product of two float32 values is exact in float64, and the sum
    rounded to float64 and then to float32 differs from one rounding only where the first
    rounding lands on a float32 tie. float64 arrays get a * b + c with two roundings (NumPy
    has no fused multiply-add), within the float64 tolerances of the tests."""
    c = np.asarray(c)
    if c.dtype.itemsize > 4:
        return a * b + c
    a, b = np.broadcast_to(a, c.shape).ravel(), np.broadcast_to(b, c.shape).ravel()
    flat = c.ravel()
    out = np.empty(flat.shape, c.dtype)
    for i in range(0, flat.size, _BLOCK):
        s = slice(i, i + _BLOCK)
        wide = a[s].astype(np.float64) * b[s].astype(np.float64) + flat[s].astype(np.float64)
        out[s] = wide
    return out.reshape(c.shape)
