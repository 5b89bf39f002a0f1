"""The 16-bit conversions of the native layer (csrc/engine/half_convert.h), on every ISA
path this CPU runs: every float16 and bfloat16 bit pattern to float32 and back, and
float32 values of every kind rounded to 16 bits, against NumPy's float16 casts and
ml_dtypes' bfloat16 casts (round to nearest, ties to even). Exact: the bits must agree
(any NaN for a NaN).

They are reached through fusedoptim.vector.copy_ (dst <- src), whose destination may be
16-bit with a float32 source, the path of a 16-bit param with float32 state.
"""
from __future__ import annotations

import numpy as np
import pytest

import fusedoptim
from fusedoptim import _native
from fusedoptim.vector import copy_

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
ISAS = _native.build_info()["isa_supported"]


def _same(a, b):
    """Bitwise equal, any NaN matching any NaN."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    nan = np.isnan(a32)
    assert np.array_equal(nan, np.isnan(b32))
    np.testing.assert_array_equal(a.view(np.uint16)[~nan], b.view(np.uint16)[~nan])


def _float32_cases(rng):
    """Random values over the whole float32 range, the 16-bit types' edges (subnormals,
    the largest finite values, just past them), exact ties, zeros, infs and NaNs."""
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    rand = bits.view(np.float32)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 65519.99, 65520.0, 65536.0,
                      6.1035156e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 1e-40,
                      3.3895314e38, 3.4028235e38, 1.0 + 2**-11, 1.0 + 3 * 2**-11,
                      1.0 + 2**-8, 1.0 + 3 * 2**-8], np.float32)
    ties = (np.arange(1, 5000, dtype=np.uint32) << 13 | 0x1000).view(np.float32)  # f16 ties
    bf_ties = (np.arange(1, 5000, dtype=np.uint32) << 16 | 0x8000).view(np.float32)
    scaled = rng.standard_normal(50_000).astype(np.float32) * np.float32(1e-6)
    out = np.concatenate([rand, edges, -edges, ties, bf_ties, scaled]).astype(np.float32)
    return np.ascontiguousarray(out)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.dtype(np.float16), BF16], ids=["float16", "bfloat16"])
def test_every_16_bit_value_round_trips(isa, dtype, restore_runtime):
    """Load then store (an lr-0 step of SGD reads and writes every param): all 65536 bit
    patterns come back as they were, NaNs as NaNs."""
    _native.set_isa(isa)
    every = np.arange(2**16, dtype=np.uint16).view(dtype)
    p = every.copy()
    wide = np.zeros(p.shape, np.float32)
    copy_([wide], [p])  # 16-bit -> float32: exact, compared with NumPy's / ml_dtypes' cast
    _same(wide.astype(dtype), every)
    np.testing.assert_array_equal(np.isnan(wide), np.isnan(every.astype(np.float32)))
    ok = ~np.isnan(wide)
    np.testing.assert_array_equal(wide[ok], every.astype(np.float32)[ok])
    fusedoptim.SGD([p], lr=0.0).step([np.zeros_like(p)])  # through the tiles and back
    _same(p, every)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.dtype(np.float16), BF16], ids=["float16", "bfloat16"])
def test_float32_rounds_to_nearest_even(isa, dtype, restore_runtime):
    _native.set_isa(isa)
    src = _float32_cases(np.random.default_rng(26))
    dst = np.zeros(src.shape, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        expect = src.astype(dtype)
    copy_([dst], [src])
    _same(dst, expect)


@pytest.mark.parametrize("isa", ISAS)
def test_tails_and_offsets_take_the_scalar_code(isa, restore_runtime):
    """Lengths that are no multiple of the vector width, and arrays starting one element
    into their buffer: the scalar tail and unaligned loads give the same bits."""
    _native.set_isa(isa)
    rng = np.random.default_rng(27)
    for n in (1, 7, 15, 17, 31, 257, 1000):
        for dtype in (np.dtype(np.float16), BF16):
            src = rng.standard_normal(n + 1).astype(np.float32)[1:]
            buf = np.zeros(n + 1, dtype)
            dst = buf[1:]
            copy_([dst], [src])
            _same(dst, src.astype(dtype))
