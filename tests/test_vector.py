"""Multi-tensor vector kernels against NumPy (float64 1e-13 relative, float32 1e-6),
deterministic across thread counts, checked before anything changes."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import vector

SHAPES = [(0,), (), (7,), (31, 33), (100003,)]


def _lists(rng, dtype):
    return ([rng.standard_normal(s).astype(dtype) for s in SHAPES],
            [rng.standard_normal(s).astype(dtype) for s in SHAPES])


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
def test_against_numpy(dtype, tol):
    rng = np.random.default_rng(0)
    xs, ys = _lists(rng, dtype)
    expected = sum(float(np.dot(x.astype(np.float64).ravel(), y.astype(np.float64).ravel()))
                   for x, y in zip(xs, ys))
    assert vector.dot(xs, ys) == pytest.approx(expected, rel=tol)
    y0 = [y.copy() for y in ys]
    vector.axpy_(-0.7, xs, ys)
    for x, y, a in zip(xs, ys, y0):
        np.testing.assert_allclose(y, a + dtype(-0.7) * x, rtol=tol, atol=tol)
    dst = [np.empty_like(x) for x in xs]
    vector.copy_(dst, xs)
    for d, x in zip(dst, xs):
        np.testing.assert_array_equal(d, x)
    vector.scale_(dst, 3.0)
    for d, x in zip(dst, xs):
        np.testing.assert_allclose(d, 3 * x, rtol=tol)


def test_diag_newton_formula():
    rng = np.random.default_rng(1)
    p, g, h = (rng.standard_normal(1000) for _ in range(3))
    h[:10] = 1e-12
    expected = p - 0.5 * g / np.maximum(np.abs(h), 1e-3)
    vector.diag_newton_([p], [g], [h], lr=0.5, min_curvature=1e-3)
    np.testing.assert_allclose(p, expected, rtol=1e-14)


def test_dot_is_identical_for_any_thread_count(restore_runtime):
    rng = np.random.default_rng(2)
    xs, ys = _lists(rng, np.float32)
    xs.append(rng.standard_normal(1 << 20).astype(np.float32))
    ys.append(rng.standard_normal(1 << 20).astype(np.float32))
    results = set()
    for threads in (1, 2, 3):
        fusedoptim.set_num_threads(threads)
        results.add(vector.dot(xs, ys))
    assert len(results) == 1


def test_bad_input_changes_nothing():
    a, b = np.ones(3), np.ones(4)
    with pytest.raises(ValueError, match=r"xs\[0\].*shape"):
        vector.axpy_(1.0, [b], [a])
    with pytest.raises(ValueError, match="shares memory"):
        vector.axpy_(1.0, [a], [a])
    with pytest.raises(TypeError, match=r"ys\[0\].*float32"):
        vector.dot([a], [a.astype(np.float32)])
    with pytest.raises(ValueError, match="min_curvature"):
        vector.diag_newton_([a], [np.ones(3)], [np.ones(3)], min_curvature=0)
    with pytest.raises(TypeError, match="xs"):
        vector.dot(a, [a])
    np.testing.assert_array_equal(a, 1.0)
