"""16-bit floats: float16 (NumPy's) and bfloat16 (``ml_dtypes.bfloat16``, the optional
``half`` extra). ml_dtypes is imported only where bfloat16 is named by a string; an
array or dtype of bfloat16 already comes from it.

The updates of 16-bit params and state compute in float32 and round each written value
once to its storage dtype (torch's "opmath"), round to nearest even.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_HINT = "bfloat16 needs ml_dtypes: pip install 'fusedoptim[half]'"


def bfloat16() -> np.dtype[Any]:
    """The dtype of ``ml_dtypes.bfloat16`` (ImportError saying how to get it)."""
    try:
        import ml_dtypes
    except ImportError as exc:
        raise ImportError(_HINT) from exc
    return np.dtype(ml_dtypes.bfloat16)


def is_bfloat16(dtype: Any) -> bool:
    dt = np.dtype(dtype)
    return dt.name == "bfloat16" and dt.type.__module__.split(".")[0] == "ml_dtypes"


def is_half(dtype: Any) -> bool:
    """float16 or bfloat16."""
    dt = np.dtype(dtype)
    return dt == np.float16 or is_bfloat16(dt)


def is_float(dtype: Any) -> bool:
    """A floating dtype: NumPy's (kind 'f') or bfloat16 (kind 'V' to NumPy)."""
    dt = np.dtype(dtype)
    return dt.kind == "f" or is_bfloat16(dt)


def finfo(dtype: Any) -> Any:
    """np.finfo, and ml_dtypes.finfo for bfloat16."""
    if is_bfloat16(dtype):
        import ml_dtypes
        return ml_dtypes.finfo(dtype)
    return np.finfo(dtype)


#: the state dtypes an optimizer can keep for float32 and 16-bit params
STATE_DTYPE_NAMES = ("float32", "float16", "bfloat16")


def state_dtype(value: Any) -> np.dtype[Any] | None:
    """The ``state_dtype`` keyword checked: None, or one of float64 (float64 params only),
    float32, float16, bfloat16 as a NumPy dtype (a type, dtype or name)."""
    if value is None:
        return None
    if isinstance(value, str) and value == "bfloat16":
        return bfloat16()
    try:
        dt = np.dtype(value)
    except Exception:  # noqa: BLE001 - NumPy's TypeError (or other) for a non-dtype
        raise TypeError(f"state_dtype: expected None or a float dtype (np.float32, np.float16, "
                        f"ml_dtypes.bfloat16, np.float64), got {value!r}") from None
    if not dt.isnative or not (dt in (np.float64, np.float32, np.float16) or is_bfloat16(dt)):
        raise ValueError(f"state_dtype: expected None, np.float32, np.float16, "
                         f"ml_dtypes.bfloat16 or np.float64 (native byte order), got {dt}")
    return dt
