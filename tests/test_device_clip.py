"""Norms, clipping, finiteness and the vector operations on device arrays (the CUDA
reduction kernel: per-chunk float64 partials added in order on the host) against
the host functions, in both device columns (tests/device_columns.py).

Tolerance 1e-13 relative for sums: both sides accumulate in float64, the device in
per-thread strides and a tree, the host in 16 lanes per 32K chunk, so only the order
of float64 additions differs. Max-norms, finiteness and elementwise ops are exact."""
import math

import numpy as np
import pytest

import fusedoptim
from fusedoptim import vector

SHAPES = [(0,), (), (7,), (31, 33), (70001,), (3 * 65536 + 5,)]


def _arrays(rng, dtypes=(np.float32, np.float64)):
    return [np.array(rng.standard_normal(s) * 3, dtype=dtypes[i % len(dtypes)])
            for i, s in enumerate(SHAPES)]


@pytest.mark.parametrize("p", [2.0, 1.0, 3.5, math.inf])
def test_global_norm(column, p):
    rng = np.random.default_rng(21)
    host = _arrays(rng)  # float32 and float64 mixed in one call
    dev = [column.device(a) for a in host]
    want, got = fusedoptim.global_norm(host, p), fusedoptim.global_norm(dev, p)
    if math.isinf(p):
        assert got == want
    else:
        assert got == pytest.approx(want, rel=1e-13)
    assert fusedoptim.global_norm(dev, p) == got, "the same bits on every call"


def test_global_norm_rescales_on_overflow(column):
    host = [np.full(10, 1e200), np.full(3, -2e200)]
    got = fusedoptim.global_norm([column.device(a) for a in host])
    assert got == pytest.approx(fusedoptim.global_norm(host), rel=1e-13)
    assert math.isfinite(got)


@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_clip_grad_norm_(column, max_norm):
    rng = np.random.default_rng(22)
    host = _arrays(rng, (np.float64,))
    dev = [column.device(a) for a in host]
    norm_h = fusedoptim.clip_grad_norm_(host, max_norm)
    norm_d = fusedoptim.clip_grad_norm_(dev, max_norm)
    assert norm_d == pytest.approx(norm_h, rel=1e-13)
    for a, b in zip(dev, host):
        np.testing.assert_allclose(column.host(a), b, rtol=1e-13, atol=0)


def test_clip_grad_value_and_all_finite(column):
    rng = np.random.default_rng(23)
    host = _arrays(rng)
    host[3][4, 5] = np.nan
    dev = [column.device(a) for a in host]
    fusedoptim.clip_grad_value_(host, 0.7)
    fusedoptim.clip_grad_value_(dev, 0.7)
    for a, b in zip(dev, host):
        np.testing.assert_array_equal(column.host(a), b)
    assert not fusedoptim.all_finite(dev)
    assert math.isnan(fusedoptim.global_norm(dev, math.inf))
    clean = [column.device(a) for a in _arrays(rng)]
    assert fusedoptim.all_finite(clean)
    big = [column.device(np.array([1.0, np.inf]))]
    assert not fusedoptim.all_finite(big)


def test_vector_ops(column):
    rng = np.random.default_rng(24)
    xs, ys, hs = (_arrays(rng, (np.float64,)) for _ in range(3))
    dx, dy, dh = ([column.device(a) for a in v] for v in (xs, ys, hs))
    assert vector.dot(dx, dy) == pytest.approx(vector.dot(xs, ys), rel=1e-12)
    vector.axpy_(0.3, xs, ys)
    vector.axpy_(0.3, dx, dy)
    vector.scale_(xs, -1.5)
    vector.scale_(dx, -1.5)
    vector.diag_newton_(ys, xs, hs, lr=0.5, min_curvature=0.1)
    vector.diag_newton_(dy, dx, dh, lr=0.5, min_curvature=0.1)
    for a, b in zip(dx + dy, xs + ys):
        np.testing.assert_allclose(column.host(a), b, rtol=1e-14, atol=1e-14)
    vector.copy_(dy, dx)
    for a, b in zip(dy, xs):
        np.testing.assert_array_equal(column.host(a), b)


def test_empty_lists_and_mixing(column):
    assert fusedoptim.global_norm([column.device(np.zeros(0))]) == 0.0
    with pytest.raises(TypeError, match=r"arrays\[1\]: a host \(NumPy\) array among CUDA device"):
        fusedoptim.global_norm([column.device(np.ones(3)), np.ones(3)])
    g = column.device(np.ones(3))
    with pytest.raises(TypeError, match=r"grads\[1\]: a host \(NumPy\) array"):
        fusedoptim.clip_grad_norm_([g, np.ones(2)], 1.0)
    np.testing.assert_array_equal(column.host(g), 1.0)
