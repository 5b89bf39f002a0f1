"""a * b + c rounded once, as the native kernels' fused multiply-add (torch.lerp's, see
csrc/optimizers/kernel_common.h)."""
from __future__ import annotations

from typing import Any

import numpy as np


def fma(a: Any, b: Any, c: np.ndarray) -> np.ndarray:
    """For float32 (and narrower) arrays, exactly the kernels' result in all but about one
    value in 2**29: the product of two float32 values is exact in float64, and the sum
    rounded to float64 and then to float32 differs from one rounding only where the first
    rounding lands on a float32 tie. float64 arrays get a * b + c with two roundings (NumPy
    has no fused multiply-add), within the float64 tolerances of the tests."""
    c = np.asarray(c)
    if c.dtype.itemsize > 4:
        return a * b + c
    wide = np.asarray(a, np.float64) * np.asarray(b, np.float64) + c.astype(np.float64)
    return wide.astype(c.dtype)
