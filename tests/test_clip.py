"""Norms, clipping and finiteness over lists of arrays: against NumPy (and torch when
installed); deterministic for any thread count; bad input changes nothing."""
import math

import numpy as np
import pytest

import fusedoptim
from fusedoptim import reference


def _arrays(rng, dtype=np.float64):
    shapes = [(0,), (), (7,), (31, 33), (100003,), (3, 5, 2)]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_global_norm_matches_numpy(dtype, tol, p):
    arrays = _arrays(np.random.default_rng(0), dtype)
    ours = fusedoptim.global_norm(arrays, p)
    flat = np.concatenate([a.astype(np.float64).ravel() for a in arrays])
    expected = np.max(np.abs(flat)) if math.isinf(p) else np.sum(np.abs(flat) ** p) ** (1 / p)
    assert ours == pytest.approx(expected, rel=tol)
    assert ours == pytest.approx(reference.clip.global_norm(arrays, p), rel=tol)


def test_global_norm_mixed_dtypes_and_scaling():
    assert fusedoptim.global_norm([np.array([3.0]), np.array([4.0], np.float32)]) == 5.0
    assert fusedoptim.global_norm([]) == 0.0
    big = [np.full(4, 1e200)]
    assert fusedoptim.global_norm(big) == pytest.approx(2e200, rel=1e-14)   # no overflow
    tiny = [np.full(4, 1e-200)]
    assert fusedoptim.global_norm(tiny) == pytest.approx(2e-200, rel=1e-14)  # no underflow
    assert math.isnan(fusedoptim.global_norm([np.array([1.0, np.nan])]))
    assert fusedoptim.global_norm([np.array([1.0, -np.inf])]) == math.inf


def test_norm_is_identical_for_any_thread_count(restore_runtime):
    arrays = _arrays(np.random.default_rng(1), np.float32) + [np.ones(1 << 20, np.float32)]
    results = []
    for threads in (1, 2, 3):
        fusedoptim.set_num_threads(threads)
        results.append(fusedoptim.global_norm(arrays))
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("max_norm", [0.5, 1e9])
def test_clip_grad_norm_matches_torch_rule(max_norm):
    rng = np.random.default_rng(2)
    grads = _arrays(rng)
    ref = [g.copy() for g in grads]
    norm = fusedoptim.clip_grad_norm_(grads, max_norm)
    rnorm = reference.clip.clip_grad_norm_(ref, max_norm)
    assert norm == pytest.approx(rnorm, rel=1e-13)
    for a, b in zip(grads, ref):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    if max_norm < norm:
        assert fusedoptim.global_norm(grads) == pytest.approx(max_norm, rel=1e-5)


def test_clip_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = _arrays(rng)
    tgrads = [torch.tensor(g.copy()) for g in grads]
    tparams = [torch.zeros_like(t, requires_grad=True) for t in tgrads]
    for p, g in zip(tparams, tgrads):
        p.grad = g
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, 1.0)
    norm = fusedoptim.clip_grad_norm_(grads, 1.0)
    assert norm == pytest.approx(float(tnorm), rel=1e-12)
    for a, p in zip(grads, tparams):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-12)
    grads2 = _arrays(rng)
    tparams2 = [torch.tensor(g.copy(), requires_grad=True) for g in grads2]
    for p, g in zip(tparams2, grads2):
        p.grad = torch.tensor(g.copy())
    torch.nn.utils.clip_grad_value_(tparams2, 0.3)
    fusedoptim.clip_grad_value_(grads2, 0.3)
    for a, p in zip(grads2, tparams2):
        np.testing.assert_array_equal(a, p.grad.numpy())


def test_clip_grad_value_and_nan():
    g = [np.array([-2.0, 0.1, 5.0, np.nan]), np.array([0.7], np.float32)]
    fusedoptim.clip_grad_value_(g, 0.5)
    np.testing.assert_array_equal(g[0][:3], [-0.5, 0.1, 0.5])
    assert np.isnan(g[0][3]) and g[1][0] == np.float32(0.5)


def test_all_finite():
    rng = np.random.default_rng(4)
    arrays = _arrays(rng, np.float32)
    assert fusedoptim.all_finite(arrays)
    for bad in (np.inf, -np.inf, np.nan):
        arrays[4][12345] = bad
        assert not fusedoptim.all_finite(arrays)
        arrays[4][12345] = 0
    assert fusedoptim.all_finite([])


def test_error_if_nonfinite_and_bad_input():
    g = [np.array([1.0, np.inf])]
    with pytest.raises(RuntimeError, match="norm"):
        fusedoptim.clip_grad_norm_(g, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(g[0], [1.0, np.inf])
    good = np.ones(3)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\[1\].*read-only"):
        fusedoptim.clip_grad_norm_([good, ro], 0.1)
    with pytest.raises(ValueError, match=r"grads\[1\].*contiguous"):
        fusedoptim.clip_grad_value_([good, np.ones((3, 4))[:, ::2]], 0.1)
    np.testing.assert_array_equal(good, 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        fusedoptim.clip_grad_norm_([good], -1)
    with pytest.raises(ValueError, match="clip_value"):
        fusedoptim.clip_grad_value_([good], float("nan"))
    with pytest.raises(TypeError, match="arrays"):
        fusedoptim.global_norm(3.0)
    with pytest.raises(TypeError, match=r"arrays\[0\]"):
        fusedoptim.global_norm([[1.0, 2.0]])
    with pytest.raises(ValueError, match="norm_type"):
        fusedoptim.global_norm([good], 0)
