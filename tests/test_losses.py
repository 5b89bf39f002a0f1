"""Losses: native against the NumPy reference and finite differences; extreme
logits; bad input. Tolerances: float64 1e-12 relative (same math, different
summation order), float32 1e-5; finite differences 1e-6 (central, h = 1e-6)."""
import numpy as np
import pytest

from fusedoptim import losses, reference

DTYPES = [(np.float64, 1e-12), (np.float32, 1e-5)]


def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


def _probs(rng, n, c):
    p = rng.random((n, c))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("kind", ["labels", "probs"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n, c", [(1, 1), (7, 3), (300, 10), (5000, 37)])
def test_cross_entropy_matches_reference(dtype, tol, kind, reduction, n, c):
    rng = np.random.default_rng(n * c)
    z = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = _labels(rng, n, c) if kind == "labels" else _probs(rng, n, c).astype(dtype)
    loss, grad = losses.softmax_cross_entropy(z, t, reduction)
    rloss, rgrad = reference.losses.softmax_cross_entropy(z, t, reduction)
    assert grad.dtype == dtype and grad.shape == z.shape
    assert loss == pytest.approx(rloss, rel=tol)
    np.testing.assert_allclose(grad, rgrad, rtol=tol, atol=tol * np.abs(rgrad).max())


@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_cross_entropy_gradient_by_finite_differences(kind):
    rng = np.random.default_rng(1)
    n, c = 4, 5
    z = rng.standard_normal((n, c))
    t = _labels(rng, n, c) if kind == "labels" else _probs(rng, n, c)
    _, grad = losses.softmax_cross_entropy(z, t)
    h = 1e-6
    fd = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        fd[idx] = (losses.softmax_cross_entropy(zp, t)[0] - losses.softmax_cross_entropy(zm, t)[0]) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_cross_entropy_known_value():
    z = np.log(np.array([[1.0, 2.0, 7.0]]))  # softmax = [0.1, 0.2, 0.7]
    loss, grad = losses.softmax_cross_entropy(z, np.array([2]))
    assert loss == pytest.approx(-np.log(0.7), rel=1e-14)
    np.testing.assert_allclose(grad, [[0.1, 0.2, -0.3]], atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_stay_finite(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    loss, grad = losses.softmax_cross_entropy(z, np.array([1, 0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert loss == pytest.approx((2e4 + np.log(3) + 2e4 + np.log(2)) / 3, rel=1e-6)
    # (softmax - one-hot) / n: softmax rows [1, 0, 0], [1/3] * 3, [1/2, 1/2, 0]
    expected = np.array([[1.0, -1.0, 0.0], [1 / 3 - 1, 1 / 3, 1 / 3], [0.5, 0.5, -1.0]]) / 3
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


def test_threads_do_not_change_the_loss(restore_runtime):
    import fusedoptim
    rng = np.random.default_rng(2)
    z = rng.standard_normal((20000, 10))
    t = _labels(rng, 20000, 10)
    out = []
    for threads in (1, 2, 3):
        fusedoptim.set_num_threads(threads)
        out.append(losses.softmax_cross_entropy(z, t))
    for loss, grad in out[1:]:
        assert loss == out[0][0]
        np.testing.assert_array_equal(grad, out[0][1])


@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(dtype, tol, reduction):
    rng = np.random.default_rng(3)
    p, t = rng.standard_normal((6, 4)).astype(dtype), rng.standard_normal((6, 4)).astype(dtype)
    loss, grad = losses.mse(p, t, reduction)
    d = p.astype(np.float64) - t
    k = d.size if reduction == "mean" else 1
    assert loss == pytest.approx(np.sum(d * d) / k, rel=tol)
    np.testing.assert_allclose(grad, 2 * d / k, rtol=tol)
    assert grad.dtype == dtype


@pytest.mark.parametrize("call, exc, match", [
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError, "out of range"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, -1])), ValueError, "out of range"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), ValueError, "targets"),
    (lambda: losses.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, int)), ValueError, "empty"),
    (lambda: losses.softmax_cross_entropy(np.zeros(3), np.array([0])), ValueError, "logits"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3), int), np.array([0, 1])), TypeError, "logits"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError, "labels"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "targets"),
    (lambda: losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), "none"), ValueError, "reduction"),
    (lambda: losses.mse(np.zeros(3), np.zeros(4)), ValueError, "shape"),
    (lambda: losses.mse(np.zeros(0), np.zeros(0)), ValueError, "empty"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
