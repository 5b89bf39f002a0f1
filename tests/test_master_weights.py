"""``master_weights=True``: a float32 master copy of each 16-bit param, updated by the
step, the param written as its rounding in the same pass.

Tolerances: with float32 state, the master copy follows exactly the float32 run given
the same (16-bit) grads, bit for bit (the same float32 formula on the same float32
values); the param is always exactly its master rounded to its dtype. Native against the
reference with 16-bit state: float32 rtol 2e-5 of each array's scale (as
test_native_vs_reference.py), except at most 2 elements in 10^4 per array: where the
kernels' FMA contraction and NumPy's separate roundings land on two sides of a 16-bit
rounding boundary of the state, the master moves by that state's ulp times lr (about
1e-3 relative here).
"""
from __future__ import annotations

import numpy as np
import pytest

import fusedoptim as fo
import fusedoptim.reference as R
from registry import CONFIGS, IDS, SMALL_SHAPES, shapes_for, sign_tie_slack

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
HALF = [np.dtype(np.float16), BF16]
SHAPES = SMALL_SHAPES + [(70_001,)]
ONE_PASS = [c for c in CONFIGS if c[0] not in ("LAMB", "LARS", "Adafactor", "Muon")]


def _make(rng, shapes, dtype, scale=1.0):
    return [np.asarray(scale * rng.standard_normal(s), np.float32).astype(dtype) for s in shapes]


def _master_rounds_to_param(opt, params):
    for i, p in enumerate(params):
        m = opt.state[i]["master_param"]
        assert m.dtype == np.float32 and m.shape == p.shape
        np.testing.assert_array_equal(m.astype(p.dtype).view(np.uint16), p.view(np.uint16))


@pytest.mark.parametrize("dtype", HALF, ids=["float16", "bfloat16"])
@pytest.mark.parametrize("cfg", ONE_PASS, ids=[i for c, i in zip(CONFIGS, IDS) if c in ONE_PASS])
def test_master_follows_the_float32_run_exactly(cfg, dtype):
    """float32 state and a master copy: the same float32 formula on the same values as
    float32 params given the 16-bit grads; 20 steps, the reused plan from the second."""
    name, kw = cfg
    rng = np.random.default_rng(30)
    shapes = shapes_for(name, SHAPES)
    params = _make(rng, shapes, dtype)
    wide = [p.astype(np.float32) for p in params]
    opt = getattr(fo, name)(params, state_dtype=np.float32, master_weights=True, **kw)
    ref = getattr(fo, name)(wide, **kw)
    for _ in range(20):
        grads = _make(rng, shapes, dtype, 0.5)
        opt.step(grads)
        ref.step([g.astype(np.float32) for g in grads])
    assert opt._fast is not None, "the plan was not reused"
    for i, w in enumerate(wide):
        np.testing.assert_array_equal(opt.state[i]["master_param"], w, err_msg=f"param {i}")
    _master_rounds_to_param(opt, params)


@pytest.mark.parametrize("dtype", HALF, ids=["float16", "bfloat16"])
@pytest.mark.parametrize("cfg", ONE_PASS, ids=[i for c, i in zip(CONFIGS, IDS) if c in ONE_PASS])
def test_native_matches_reference_with_16_bit_state(cfg, dtype):
    """State in the params' 16-bit dtype, a float32 master: native and reference agree
    (masters within float32 rounding of one another; 16-bit state within 1 ulp)."""
    name, kw = cfg
    rng = np.random.default_rng(31)
    shapes = shapes_for(name, SHAPES)
    params = _make(rng, shapes, dtype)
    twin = [p.copy() for p in params]
    opt = getattr(fo, name)(params, master_weights=True, **kw)
    ref = getattr(R, name)(twin, master_weights=True, **kw)
    for step in range(5):
        grads = _make(rng, shapes, dtype, 0.5)
        opt.step(grads)
        ref.step(grads)
        for i in range(len(params)):
            ours, theirs = opt.state[i]["master_param"], ref.state[i]["master_param"]
            scale = float(np.max(np.abs(theirs), initial=0.0))
            off = np.abs(ours - theirs) > 2e-5 * (np.abs(theirs) + scale)
            slack = sign_tie_slack(cfg)  # Lion: a sign tie moves an element by 2 lr
            assert off.sum() <= max(1, ours.size // 5_000), f"step {step + 1}, param {i}"
            assert np.all(np.abs(ours - theirs)[off] <= (slack or 0.0) + 1e-2 * np.abs(theirs[off]))
        ref.load_state_dict(opt.state_dict())  # the next step from the same state
        for p, q in zip(params, twin):
            q[...] = p
    _master_rounds_to_param(opt, params)


def test_small_updates_accumulate_in_the_master():
    """lr far below bfloat16's resolution at 1: without a master the params never move;
    with one they move as the float32 run does."""
    rng = np.random.default_rng(32)
    start = np.ones(1000, BF16)
    plain, kept, wide = start.copy(), start.copy(), start.astype(np.float32)
    a = fo.SGD([plain], lr=1e-4)
    b = fo.SGD([kept], lr=1e-4, master_weights=True)
    c = fo.SGD([wide], lr=1e-4)
    for _ in range(300):
        g = np.abs(rng.standard_normal(1000)).astype(BF16)
        a.step([g])
        b.step([g])
        c.step([g.astype(np.float32)])
    assert np.all(plain == start)  # every update rounded away
    np.testing.assert_array_equal(b.state[0]["master_param"], wide)
    assert np.all(kept < start)


def test_state_dict_carries_the_master_and_loads_it_as_float32():
    rng = np.random.default_rng(33)
    params = _make(rng, SHAPES, BF16)
    opt = fo.Adam(params, lr=1e-3, master_weights=True)
    for _ in range(3):
        opt.step(_make(rng, SHAPES, BF16))
    sd = opt.state_dict()
    assert sd["state"][6]["master_param"].dtype == np.float32
    other = fo.Adam([p.copy() for p in params], lr=1e-3, master_weights=True)
    other.load_state_dict(sd)
    for i in range(len(params)):
        np.testing.assert_array_equal(other.state[i]["master_param"], sd["state"][i]["master_param"])
    plain = fo.Adam([p.copy() for p in params], lr=1e-3)
    with pytest.raises(ValueError, match="master_param"):
        plain.load_state_dict(sd)
    assert all(len(plain.state[i]) == 0 for i in range(len(params)))


def test_skipped_and_scaled_steps_with_a_master():
    rng = np.random.default_rng(34)
    params = _make(rng, SHAPES, np.float16)
    twin = [p.copy() for p in params]
    a = fo.Adam(params, lr=1e-3, master_weights=True, state_dtype=np.float32)
    b = fo.Adam(twin, lr=1e-3, master_weights=True, state_dtype=np.float32)
    for t in range(6):
        grads = _make(rng, SHAPES, np.float16, 0.5)
        if t == 3:
            before = [a.state[i]["master_param"].copy() for i in range(len(params))]
            a.step(grads, found_inf=True)
            for i, m in enumerate(before):
                np.testing.assert_array_equal(a.state[i]["master_param"], m)
            continue
        a.step([np.asarray(g * np.float16(4)) for g in grads], grad_scale=4.0)
        b.step(grads)
    for i in range(len(params)):
        np.testing.assert_array_equal(a.state[i]["master_param"], b.state[i]["master_param"])


def test_master_weights_only_where_it_applies():
    p32 = [np.ones(5, np.float32)]
    opt = fo.Adam(p32, master_weights=True)
    opt.step([np.ones(5, np.float32)])
    assert "master_param" not in opt.state[0]  # float32 params need no copy
    for name, kw in (("LAMB", dict(state_dtype=np.float32)), ("LARS", dict(lr=0.1)),
                     ("Adafactor", {}), ("Muon", {})):
        with pytest.raises(ValueError, match="master_weights"):
            getattr(fo, name)([np.ones((3, 2), np.float32)], master_weights=True, **kw)
    with pytest.raises(TypeError, match="master_weights"):
        fo.SGD(p32, lr=0.1, master_weights="yes")


def test_a_bad_master_is_refused_before_anything_changes():
    p = np.ones(4, BF16)
    opt = fo.SGD([p], lr=0.1, master_weights=True)
    opt.step([np.ones(4, BF16)])
    with pytest.raises(ValueError, match="master_param"):
        opt.state[0]["master_param"] = np.zeros(4, BF16)
    with pytest.raises(ValueError, match="master_param"):
        opt.state[0]["master_param"] = np.zeros(5, np.float32)
    before = p.copy()
    m = opt.state[0]["master_param"].copy()
    with pytest.raises(ValueError):
        opt.step([np.ones(5, BF16)])
    np.testing.assert_array_equal(p.view(np.uint16), before.view(np.uint16))
    np.testing.assert_array_equal(opt.state[0]["master_param"], m)
