"""bitsandbytes' 8-bit blockwise state format, in NumPy, for the twin of its 8-bit
optimizers (reference/_eightbit.py): the dynamic maps, blockwise quantization with its
CPU rounding rule (or nearest), the state layout, and the float32 arithmetic with
torch's CPU rounding that both need (see _eightbit.py's docstring for the whole model).
"""
from __future__ import annotations

from typing import Literal

import numpy as np

# BLOCK (256 values per quantization block) and MIN_8BIT_SIZE (4096: smaller tensors keep
# float32 state) are bitsandbytes' constants, shared with the native optimizers.
from ..functional._blockwise8 import BLOCK, MIN_8BIT_SIZE

_LUT_SIZE = 65536
"""Bins of the lookup table bitsandbytes' CPU quantizer puts over [-1, 1]."""

Rounding = Literal["bnb", "nearest"]

_F32 = np.float32


# --------------------------------------------------------------------------- float32 arithmetic

def _f32(x: float) -> np.float32:
    """A Python scalar as torch's CPU kernels see it next to a float32 tensor: cast to float32."""
    return _F32(x)


def _fma(a: np.ndarray, b: np.float32 | np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` rounded once to float32 (the product of two float32 is exact in float64)."""
    return (a.astype(np.float64) * np.float64(b) + c).astype(_F32)


def _add_alpha(t: np.ndarray, u: np.ndarray, alpha: float) -> np.ndarray:
    """torch's ``t.add(u, alpha=alpha)`` on float32: ``fma(u, float32(alpha), t)``."""
    return _fma(u, _f32(alpha), t)


def _addcmul(t: np.ndarray, u: np.ndarray, v: np.ndarray, value: float) -> np.ndarray:
    """torch's ``t.addcmul(u, v, value=value)`` on float32: ``fma(float32(value) * u, v, t)``
    (the first product rounded, the second fused with the sum)."""
    return _fma(_f32(value) * u, v, t)


def _addcdiv(t: np.ndarray, u: np.ndarray, v: np.ndarray, value: float) -> np.ndarray:
    """torch's ``t.addcdiv(u, v, value=value)`` on float32: ``t + (float32(value) * u) / v``."""
    return t + (_f32(value) * u) / v


# --------------------------------------------------------------------------- the dynamic map

def _linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace(start, end, steps, dtype=torch.float32)`` on CPU, value for value.

    With ``step = (end - start) / (steps - 1)`` in float32 and ``h = steps // 2``:
    ``x[i] = start + step * i`` for ``i < h`` and ``x[i] = end - step * (steps - 1 - i)``
    for ``i >= h`` (ATen's RangeFactoriesKernel), each a fused multiply-add rounded once to
    float32 (rounding the product first differs from torch in 24 of 129 values).
    """
    a, b = _f32(start), _f32(end)
    if steps == 1:
        return np.array([a], dtype=_F32)
    step = (b - a) / _f32(steps - 1)
    i = np.arange(steps, dtype=np.float64)
    low = _fma(i, step, np.full(steps, a, dtype=np.float64))
    high = _fma(steps - 1 - i, -step, np.full(steps, b, dtype=np.float64))
    return np.where(i < steps // 2, low, high).astype(_F32)


def dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """bitsandbytes' ``create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)``,
    bit for bit: 256 sorted float32 values in [-1, 1] (signed) or [0, 1] (unsigned).

    The dynamic tree data type: for exponent ``e = 0 .. 6`` the interval [0.1, 1] is cut into
    ``n_e = 2**e`` (signed) or ``2**(e + 1)`` (unsigned) equal parts by
    ``b = linspace(0.1, 1, n_e + 1)`` and the midpoints ``(b[k] + b[k+1]) / 2`` are scaled by
    ``10**(e - 6)``; the signed map adds their negatives. With 0 and 1 appended:
    signed 2 * 127 + 2 = 256 values (smallest -0.99297, no -1), unsigned 254 + 2 = 256.
    Optimizers use ``signed=True`` for the first moment and ``signed=False`` for Adam's
    second moment. Every product is float32: ``float32(10**(e - 6)) * mean``.
    """
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    data: list[np.ndarray] = []

    def add(count: int, e: int) -> None:
        b = _linspace_f32(0.1, 1.0, count + 1)
        means = (b[:-1] + b[1:]) / _F32(2.0)
        scale = 10 ** (-(max_exponent_bits - 1) + e)
        data.append(_f32(scale) * means)
        if signed:
            data.append(_f32(-scale) * means)

    for e in range(max_exponent_bits):
        shift = 0 if signed else 1
        add(2 ** (e + non_sign_bits - max_exponent_bits + shift), e)
    if additional_items > 0:
        add(additional_items, max_exponent_bits - 1)
    values = np.concatenate(data + [np.array([0.0, 1.0], dtype=_F32)])
    if values.size != 2 ** total_bits:
        raise ValueError("the map must have 2**total_bits values")
    values = np.concatenate([values, np.zeros(256 - values.size, dtype=_F32)])
    return np.sort(values).astype(_F32)


# --------------------------------------------------------------------------- block quantization

def _blocks(n: int, block: int) -> int:
    """Number of blocks for n elements: ``ceil(n / block)`` (a last partial block counts)."""
    return -(-n // block)


def _block_absmax(x: np.ndarray, block: int) -> np.ndarray:
    """``absmax[b] = max_{i in block b} |x[i]|`` in float32 (exact: no rounding)."""
    n = x.size
    pad = _blocks(n, block) * block - n
    a = np.abs(np.concatenate([x, np.zeros(pad, dtype=_F32)]))
    return a.reshape(-1, block).max(axis=1).astype(_F32)


def _midpoints(qmap: np.ndarray) -> np.ndarray:
    """``m[k] = 0.5 * (qmap[k] + qmap[k+1])`` in float32: the cell edges of a sorted map."""
    return (_F32(0.5) * (qmap[:-1] + qmap[1:])).astype(_F32)


def _bnb_lut(qmap: np.ndarray) -> np.ndarray:
    """The 65536-entry table of bitsandbytes' CPU quantizer (csrc/cpu_ops.cpp
    ``build_quantize_lut``): bin ``j`` stands for ``v_j = -1 + (2 j) / 65535`` (float32) and
    holds the number of midpoints strictly below ``v_j``, i.e. the code nearest to ``v_j``
    (ties to the lower code)."""
    j = np.arange(_LUT_SIZE, dtype=_F32)
    v = _F32(-1.0) + (_F32(2.0) * j) / _F32(_LUT_SIZE - 1)
    return np.searchsorted(_midpoints(qmap), v, side="left").astype(np.uint8)


_LUT_CACHE: dict[bytes, np.ndarray] = {}


def _lut_for(qmap: np.ndarray) -> np.ndarray:
    key = np.ascontiguousarray(qmap, dtype=_F32).tobytes()
    if key not in _LUT_CACHE:
        _LUT_CACHE[key] = _bnb_lut(np.asarray(qmap, dtype=_F32))
    return _LUT_CACHE[key]


def _codes_bnb(scaled: np.ndarray, qmap: np.ndarray) -> np.ndarray:
    """bitsandbytes' CPU rule for a scaled value ``s``: ``s = clamp(s, -1, 1)``, bin
    ``j = trunc((s + 1) * 0.5 * 65535 + 0.5)`` in float32 (the last multiply-add fused, as
    GCC compiles it), code ``lut[j]``. The map is first rounded to a 2/65535 grid: a value
    is coded by the map entry nearest to its grid point, so codes whose cell is narrower than
    the grid (the map's finest steps near 0) are never produced."""
    s = np.clip(scaled, _F32(-1.0), _F32(1.0))
    half = (s + _F32(1.0)) * _F32(0.5)
    j = _fma(half, _F32(_LUT_SIZE - 1), np.full_like(half, 0.5)).astype(np.uint16)
    return _lut_for(qmap)[j]


def _codes_nearest(scaled: np.ndarray, qmap: np.ndarray) -> np.ndarray:
    """Nearest rounding (the paper's rule): the code ``k`` minimizing ``|qmap[k] - s|`` for
    ``s = clamp(s, -1, 1)``, found as the number of midpoints strictly below ``s`` (ties to
    the lower code), what bitsandbytes' pure-torch backend does with ``torch.bucketize``."""
    s = np.clip(scaled, _F32(-1.0), _F32(1.0))
    return np.searchsorted(_midpoints(qmap), s, side="left").astype(np.uint8)


def quantize_blockwise(x: np.ndarray, qmap: np.ndarray, block: int = BLOCK,
                       rounding: Rounding = "bnb") -> tuple[np.ndarray, np.ndarray]:
    """Blockwise quantization of float32 ``x`` (any shape, any length) with a sorted 256-entry
    ``qmap``. Returns ``(codes uint8 of x's shape, absmax float32 of ceil(n / block))``.

    Per block ``b``: ``absmax[b] = max |x|``; ``s = x * float32(1 / absmax[b])`` (a multiply
    by the float32 reciprocal, as bitsandbytes' CPU kernel does); ``code = rule(s)``. A block
    whose absmax is 0 gets codes 0 (bitsandbytes' convention; they dequantize to 0), and so
    does a block whose absmax is inf or NaN (a NaN anywhere makes the block's absmax NaN):
    it dequantizes to NaN, so a non-finite moment stays visible instead of turning into
    arbitrary codes.

    ``rounding="bnb"`` (the default) is bitsandbytes' CPU rule, a 65536-bin lookup table
    (:func:`_codes_bnb`), so that states match bitsandbytes code for code: the twin's purpose.
    ``rounding="nearest"`` is the paper's nearest-value rule (:func:`_codes_nearest`); it
    differs from "bnb" near cell edges and, mostly, for ``|s| < 3e-5`` where "bnb" cannot
    resolve the map's smallest values (0 is coded as about 1.5e-5 by "bnb", exactly by
    "nearest").
    """
    if rounding not in ("bnb", "nearest"):
        raise ValueError(f"rounding must be 'bnb' or 'nearest', not {rounding!r}")
    if block <= 0:
        raise ValueError(f"block must be positive, got {block}")
    q = np.asarray(qmap, dtype=_F32).reshape(-1)
    if q.size != 256 or np.any(np.diff(q) < 0):
        raise ValueError("qmap must be 256 sorted float32 values")
    flat = np.ascontiguousarray(x, dtype=_F32).reshape(-1)
    n = flat.size
    absmax = _block_absmax(flat, block)
    if n == 0:
        return np.zeros(np.shape(x), dtype=np.uint8), absmax
    per_elem = np.repeat(absmax, block)[:n]
    coded = (per_elem > 0) & np.isfinite(per_elem)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(coded, _F32(1.0) / per_elem, _F32(0.0)).astype(_F32)
    scaled = flat * inv
    rule = _codes_bnb if rounding == "bnb" else _codes_nearest
    codes = np.where(coded, rule(scaled, q), np.uint8(0)).astype(np.uint8)
    return codes.reshape(np.shape(x)), absmax


def dequantize_blockwise(codes: np.ndarray, absmax: np.ndarray, qmap: np.ndarray,
                         block: int = BLOCK) -> np.ndarray:
    """``x[i] = qmap[codes[i]] * absmax[i // block]`` in float32, of codes' shape."""
    flat = np.asarray(codes, dtype=np.uint8).reshape(-1)
    a = np.asarray(absmax, dtype=_F32).reshape(-1)
    if a.size != _blocks(flat.size, block):
        raise ValueError(f"{flat.size} codes need {_blocks(flat.size, block)} absmax values, "
                         f"got {a.size}")
    out = np.asarray(qmap, dtype=_F32)[flat] * np.repeat(a, block)[: flat.size]
    return out.astype(_F32).reshape(np.shape(codes))


# --------------------------------------------------------------------------- state layout

def uses_8bit_state(numel: int, min_8bit_size: int = MIN_8BIT_SIZE) -> bool:
    """bitsandbytes' rule (``Optimizer8bit.init_state``): 8-bit state iff
    ``numel >= min_8bit_size``; a tensor with ``numel < min_8bit_size`` (4096 by default)
    keeps float32 state. The element count is the only condition."""
    return numel >= min_8bit_size


def init_8bit_state(numel: int, signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A fresh 8-bit moment as bitsandbytes makes it: codes all 0 and absmax all 0 (one per
    block), so that it dequantizes to zeros (``qmap[0] * 0``)."""
    return np.zeros(numel, dtype=np.uint8), np.zeros(_blocks(numel, BLOCK), dtype=_F32)
