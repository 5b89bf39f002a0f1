"""Muon against torch.optim.Muon, its reference twin, across thread counts, and its bad
input.

torch runs the Newton-Schulz iteration in bfloat16; fusedoptim in the params' dtype. The
exact comparisons use torch's Muon with that iteration kept in the input's dtype
(tests/torch_twins.py, patched for torch's own steps only). Over 120 steps with fresh
random gradients, measured worst cases (relative to each array's largest magnitude):
float64 params 2.9e-15, float32 params 1.4e-6 (NS amplifies rounding of the small singular
values by up to a^k = 3.4^5 per step); the momentum buffers, which no matrix product
enters, equal torch's bit for bit. Asserted: float64 1e-12, float32 2e-5.
"""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import functional as F
from registry import assert_close, assert_unchanged, snapshot

torch = pytest.importorskip("torch")
from torch_twins import SamePrecisionMuon  # noqa: E402 - needs torch

STEPS = 120
TOL = {np.float64: 1e-12, np.float32: 2e-5}
# wide, tall (transposed inside NS), square, two of one shape (one batched product), odd
SHAPES = [(48, 80), (80, 48), (32, 32), (48, 80), (7, 3)]

OPTIONS = [
    dict(lr=0.02),
    dict(lr=0.02, nesterov=False),
    dict(lr=0.02, adjust_lr_fn="original"),
    dict(lr=0.01, adjust_lr_fn="match_rms_adamw", weight_decay=0.05),
    dict(lr=0.02, weight_decay=0.0, momentum=0.3),       # lerp's other branch
    dict(lr=0.02, nesterov=False, adjust_lr_fn="match_rms_adamw", weight_decay=0.0),
    dict(lr=0.05, ns_steps=3, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3),
]


def _init(rng, dtype, shapes=SHAPES):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _run_pair(kw, dtype, steps=STEPS, torch_cls=SamePrecisionMuon, schedule=None, seed=0):
    rng = np.random.default_rng(seed)
    params = _init(rng, dtype)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = fusedoptim.Muon(params, **dict(kw, lr=schedule) if schedule else kw)
    topt = torch_cls(tparams, **kw)
    for t in range(steps):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        if schedule:
            topt.param_groups[0]["lr"] = schedule(t)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        topt.step()
        opt.step(grads)
    return params, tparams, opt, topt


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", OPTIONS, ids=[str(k) for k in OPTIONS])
def test_matches_torch_same_precision(kw, dtype):
    params, tparams, opt, topt = _run_pair(kw, dtype)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), TOL[dtype], err_msg=f"param {i}")
        assert list(opt.state[i]) == list(topt.state[tp]) == ["momentum_buffer"]
        np.testing.assert_array_equal(opt.state[i]["momentum_buffer"],
                                      topt.state[tp]["momentum_buffer"].numpy())


def test_callable_lr_matches_torch_with_lr_set_each_step():
    sched = lambda t: 0.03 * 0.98 ** t  # noqa: E731
    params, tparams, _, _ = _run_pair(dict(lr=0.03), np.float64, steps=30, schedule=sched)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), TOL[np.float64], err_msg=f"param {i}")


def test_close_to_torchs_own_bfloat16_iteration():
    """Against unpatched torch.optim.Muon (NS in bfloat16: 8 significant bits, about 4e-3
    relative per rounding): the params' total movement over 100 steps (lr 0.02) differs by
    0.53% measured (norm of the difference of the movements relative to torch's; asserted
    3%, well below the 100% a wrong update would show). The buffers take no NS: exact."""
    rng = np.random.default_rng(5)
    init = _init(rng, np.float32)
    params, tparams, opt, topt = _run_pair(dict(lr=0.02), np.float32, steps=100,
                                           torch_cls=torch.optim.Muon, seed=5)
    for i, (p, tp, p0) in enumerate(zip(params, tparams, init)):
        ours, theirs = p - p0, tp.detach().numpy() - p0
        assert np.linalg.norm(ours - theirs) <= 0.03 * np.linalg.norm(theirs), f"param {i}"
        np.testing.assert_array_equal(opt.state[i]["momentum_buffer"],
                                      topt.state[tp]["momentum_buffer"].numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", OPTIONS, ids=[str(k) for k in OPTIONS])
def test_native_matches_reference_and_threads_agree(kw, dtype, restore_runtime):
    """Native (fused passes, batched products) against the one-matrix-at-a-time NumPy
    twin; and the native passes give the same bits at 1 and 2 threads."""
    rng = np.random.default_rng(3)
    init = _init(rng, dtype)
    grads = [[rng.standard_normal(p.shape).astype(dtype) for p in init] for _ in range(30)]
    ref_params = [p.copy() for p in init]
    ref = fusedoptim.reference.Muon(ref_params, **kw)
    for g in grads:
        ref.step(g)
    runs = []
    for threads in (1, 2):
        fusedoptim.set_num_threads(threads)
        params = [p.copy() for p in init]
        opt = fusedoptim.Muon(params, **kw)
        for g in grads:
            opt.step(g)
        runs.append((params, [opt.state[i]["momentum_buffer"] for i in range(len(params))]))
        for i, (a, b) in enumerate(zip(params, ref_params)):
            assert_close(a, b, TOL[dtype], err_msg=f"x{threads} param {i}")
            assert_close(opt.state[i]["momentum_buffer"], ref.state[i]["momentum_buffer"],
                         TOL[dtype], err_msg=f"x{threads} buffer {i}")
    for a, b in zip(runs[0][0] + runs[0][1], runs[1][0] + runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_functional_entry_and_per_shape_lr():
    """functional.muon on its own; params of two shapes take two adjusted lrs."""
    rng = np.random.default_rng(4)
    params = _init(rng, np.float64, [(8, 2), (2, 8)])
    copies = [p.copy() for p in params]
    bufs, ref_bufs = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    grads = [rng.standard_normal(p.shape) for p in params]
    F.muon(params, grads, bufs, lr=0.1)
    fusedoptim.reference.functional.muon(copies, grads, ref_bufs, lr=0.1)
    for a, b in zip(params + bufs, copies + ref_bufs):
        assert_close(a, b, 1e-13)
    assert F._muon.adjusted_lr(0.1, None, (8, 2)) == pytest.approx(0.2)
    assert F._muon.adjusted_lr(0.1, None, (2, 8)) == 0.1
    assert F._muon.adjusted_lr(0.1, "match_rms_adamw", (2, 8)) == pytest.approx(0.2 * 0.1 * 8 ** 0.5)


def test_state_dict_round_trip():
    rng = np.random.default_rng(6)
    params = _init(rng, np.float32)
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in params] for _ in range(10)]
    opt = fusedoptim.Muon(params, lr=0.02, nesterov=False)
    for g in grads[:5]:
        opt.step(g)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"momentum_buffer"}
    resumed = [p.copy() for p in params]
    for g in grads[5:]:
        opt.step(g)
    fresh = fusedoptim.Muon(resumed, lr=0.02, nesterov=False)
    fresh.load_state_dict(sd)
    for g in grads[5:]:
        fresh.step(g)
    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()])
def test_a_param_that_is_not_a_matrix_is_refused_at_construction(shape):
    params = [np.ones((3, 2)), np.ones(shape)]
    with pytest.raises(ValueError, match=r"params\[1\].*2-D.*AdamW"):
        fusedoptim.Muon(params)
    with pytest.raises(ValueError, match=r"params\['bias'\].*2-D.*AdamW"):
        fusedoptim.Muon({"w": np.ones((3, 2)), "bias": np.ones(shape)})
    opt = fusedoptim.Muon([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"params\[1\].*2-D"):
        opt.add_param_group({"params": [np.ones(shape)]})
    assert len(opt.param_groups) == 1 and opt._n == 1  # nothing was added
    opt.step([np.ones((3, 2))])


@pytest.mark.parametrize("kw, exc, match", [
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(momentum=-0.5), ValueError, "momentum"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
    (dict(lr=1e200, weight_decay=1e200), ValueError, "weight_decay"),
    (dict(adjust_lr_fn="rms"), ValueError, "adjust_lr_fn"),
    (dict(ns_steps=0), ValueError, "ns_steps"),
    (dict(ns_steps=100), ValueError, "ns_steps"),
    (dict(ns_steps=2.5), TypeError, "ns_steps"),
    (dict(ns_steps=True), TypeError, "ns_steps"),
    (dict(ns_coefficients=(1.0, 2.0)), TypeError, "ns_coefficients"),
    (dict(ns_coefficients="abc"), TypeError, "ns_coefficients"),
    (dict(ns_coefficients=(1.0, float("inf"), 2.0)), ValueError, r"ns_coefficients\[1\]"),
    (dict(eps=0.0), ValueError, "eps"),
    (dict(eps=float("inf")), ValueError, "eps"),
    (dict(nesterov=2), TypeError, "nesterov"),
])
def test_bad_hyperparameters(kw, exc, match):
    with pytest.raises(exc, match=match):
        fusedoptim.Muon([np.ones((3, 2))], **kw)
    with pytest.raises(exc, match=match):
        F.muon([np.ones((3, 2))], [np.ones((3, 2))], [np.zeros((3, 2))], **kw)


def _stepped(rng):
    params = _init(rng, np.float64, [(4, 3), (3, 4), (5, 2)])
    opt = fusedoptim.Muon([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}])
    opt.step([rng.standard_normal(p.shape) for p in params])
    return opt, params


@pytest.mark.parametrize("key, value, match", [
    ("ns_steps", 0, r"param_groups\[1\]\['ns_steps'\]"),
    ("ns_coefficients", (1.0, float("nan"), 1.0), r"param_groups\[1\]\['ns_coefficients'\]\[1\]"),
    ("adjust_lr_fn", "x", r"param_groups\[1\]\['adjust_lr_fn'\]"),
    ("lr", lambda t: -1.0, r"param_groups\[1\]\['lr'\]"),
])
def test_bad_hyperparameter_set_between_steps_changes_nothing(key, value, match):
    rng = np.random.default_rng(8)
    opt, params = _stepped(rng)
    opt.param_groups[1][key] = value
    before = snapshot(opt)
    with pytest.raises((TypeError, ValueError), match=match):
        opt.step([rng.standard_normal(p.shape) for p in params])
    assert_unchanged(opt, before)


@pytest.mark.parametrize("make, exc, match", [
    (lambda p, g: [g[0], np.ones((4, 3)), g[2]], ValueError, r"grads\[1\].*shape"),
    (lambda p, g: [g[0], g[1], g[2].astype(np.float32)], TypeError, r"grads\[2\]"),
    (lambda p, g: [g[0], p[1], g[2]], ValueError, r"grads\[1\].*shares memory"),
    (lambda p, g: [np.ones((4, 6))[:, ::2], g[1], g[2]], ValueError, r"grads\[0\].*contiguous"),
])
def test_bad_grads_change_nothing(make, exc, match):
    rng = np.random.default_rng(9)
    opt, params = _stepped(rng)
    before = snapshot(opt)
    with pytest.raises(exc, match=match):
        opt.step(make(params, [rng.standard_normal(p.shape) for p in params]))
    assert_unchanged(opt, before)


def test_first_step_failure_creates_no_state():
    params = [np.ones((4, 3)), np.ones((2, 2))]
    opt = fusedoptim.Muon(params)
    with pytest.raises(ValueError, match=r"grads\[1\]"):
        opt.step([np.ones((4, 3)), np.ones((2, 3))])
    assert not any(opt.state[i] for i in opt.state)
    np.testing.assert_array_equal(params[0], 1.0)
