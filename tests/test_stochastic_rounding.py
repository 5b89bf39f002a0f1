"""``stochastic_rounding=True``: every 16-bit value a step writes is rounded stochastically
from a counter-based generator keyed by (seed, step, tensor, operand, element index)
(the rule and the generator: python/fusedoptim/_stochastic.py, csrc/engine/half_convert.h).

Tolerances, stated once:

* the rule itself (native stores on every ISA path against the NumPy twin): bitwise;
* native against the reference optimizers, each step from the same params and state: the
  random bits are the same, so an element differs only where the float32 value before
  rounding differs (FMA contraction against NumPy's separate roundings, as in
  test_half_precision.py) and the random threshold falls between the two values. Over
  every array and step of a test at most 1 element in 500 differs (measured: about 1 in
  4,500, as round to nearest shows) and at most 1 in 5,000 differs by more than 1 ulp or
  the cancellation slack of test_half_precision.py (measured: up to 1 in 12,000 in one
  step of RMSprop's momentum buffer; test_half_precision.py's outliers, where g + wd p
  cancels), each with 8 to spare. Per array the caps are wide (16 elements or 1 in 100;
  8 or 1 in 2,000): the counts of one small array are overdispersed (RMSprop's momentum
  buffer of 1,023 values: 0 to 4 differing elements in 6,000 steps, a tail falling about
  5x per element), and a cap of 4 failed about once in 10^4 arrays. Different random
  bits would make about a third to a half of the inexact elements differ;
* thread counts, ISA paths, the reused plan against the general path, a state_dict round
  trip: bitwise;
* unbiasedness: the mean of N roundings of x within 5 binomial standard deviations,
  (hi - lo) * sqrt(p (1 - p) / N), of x.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fusedoptim as fo
import fusedoptim.reference as R
from fusedoptim import _native
from fusedoptim import _stochastic as S
from registry import CONFIGS, IDS, SMALL_SHAPES, shapes_for, sign_tie_slack

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALF = [F16, BF16]
HALF_IDS = ["float16", "bfloat16"]
ISAS = _native.build_info()["isa_supported"]
MULTI_PASS = ("LAMB", "LARS", "Adafactor", "Muon")
ONE_PASS = [c for c in CONFIGS if c[0] not in MULTI_PASS]
ONE_PASS_IDS = [i for c, i in zip(CONFIGS, IDS) if c in ONE_PASS]
SHAPES = SMALL_SHAPES + [(70_001,)]


def _make(rng, shapes, dtype, scale=1.0):
    return [np.asarray(scale * rng.standard_normal(s), np.float32).astype(dtype) for s in shapes]


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint16 if a.dtype.itemsize == 2 else np.uint8)


def _ulps(a, b):
    def ordered(x):
        i = np.ascontiguousarray(x).view(np.int16).astype(np.int32)
        return np.where(i < 0, -(i & 0x7FFF), i)
    return np.abs(ordered(a) - ordered(b))


def _neighbours(x, dtype):
    """The 16-bit values lo <= x <= hi around each float32 x (finite, in range)."""
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore"):
        return _neighbours_of(x, dtype)


def _neighbours_of(x, dtype):
    near = x.astype(dtype)
    n32 = near.astype(np.float32)
    up = np.nextafter(near, np.array(np.inf, dtype)).astype(np.float32) if dtype == F16 else \
        _next_bf16(near, +1)
    down = np.nextafter(near, np.array(-np.inf, dtype)).astype(np.float32) if dtype == F16 else \
        _next_bf16(near, -1)
    lo = np.where(n32 <= x, n32, down)
    hi = np.where(n32 >= x, n32, up)
    return lo, hi


def _next_bf16(a, direction):
    """The next bfloat16 value from a towards +inf (direction 1) or -inf (-1), as float32."""
    f = a.astype(np.float32)
    i = a.view(np.uint16).astype(np.int32)
    pos = f > 0
    zero = f == 0
    step = np.where(pos == (direction > 0), 1, -1)
    i = np.where(zero, np.where(direction > 0, 0x0001, 0x8001), i + step)
    return i.astype(np.uint16).view(BF16).astype(np.float32)


# ------------------------------------------------------------------------------ the rule
def _float32_cases(rng):
    bits = rng.integers(0, 2**32, 100_003, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32).copy()
    n = 5000
    x[:n] = rng.standard_normal(n) * 1e-5  # float16 subnormals
    x[n:2 * n] = rng.standard_normal(n) * 1e-9  # below them
    x[2 * n:3 * n] = rng.uniform(6.0e4, 7.0e4, n)  # float16's largest finite values and past
    x[3 * n:4 * n] = rng.standard_normal(n)
    x[4 * n:4 * n + 14] = [0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 65519.99, 65520.0,
                           3.3895314e38, 3.4028235e38, 1e-40, -1e-45, 2.0**-14, -2.0**-24]
    return x


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
@pytest.mark.parametrize("isa", ISAS)
def test_native_rule_matches_numpy_on_every_isa(isa, dtype):
    """The native stores (vector bodies and scalar tails, index words near 2^32) against the
    NumPy twin: bitwise, any NaN for a NaN."""
    rng = np.random.default_rng()
    x = _float32_cases(rng)
    before = _native.get_isa()
    try:
        _native.set_isa(isa)
        for first in (0, 3, 2**32 - 37, 2**40 + 11):
            key = int(rng.integers(0, 2**63)) * 2 + 1
            out = np.empty(x.size, dtype)
            _native._core._stochastic_round(x, out, key, first)
            want = S.stochastic_round(x, dtype, key, first)
            nan = np.isnan(x)
            assert np.array_equal(np.isnan(out.astype(np.float32)), nan)
            np.testing.assert_array_equal(_bits(out)[~nan], _bits(want)[~nan],
                                          err_msg=f"{isa} first={first}")
    finally:
        _native.set_isa(before)


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
def test_rule_rounds_to_a_neighbour_and_keeps_the_special_values(dtype):
    rng = np.random.default_rng()
    x = _float32_cases(rng)
    finite_max = 65504.0 if dtype == F16 else float(ml_dtypes.finfo(BF16).max)
    out = S.stochastic_round(x, dtype, int(rng.integers(0, 2**63))).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        rne = x.astype(dtype).astype(np.float32)
        big = ~(np.abs(x) <= finite_max)  # beyond the largest finite, inf, NaN
    # Past the largest finite value (inf, NaN): as round to nearest even.
    np.testing.assert_array_equal(out[big & ~np.isnan(x)], rne[big & ~np.isnan(x)])
    assert np.isnan(out[np.isnan(x)]).all()
    small = ~big
    lo, hi = _neighbours(x[small], dtype)
    o = out[small]
    assert np.all((o == lo) | (o == hi))
    # Signs kept (zeros included), exact values unchanged.
    np.testing.assert_array_equal(np.signbit(o), np.signbit(x[small]))
    exact = x[small].astype(dtype).astype(np.float32) == x[small]
    np.testing.assert_array_equal(_bits(x[small][exact].astype(dtype)),
                                  _bits(o[exact].astype(dtype)))
    # Both neighbours are taken: the rounding is not to nearest.
    inexact = ~exact
    assert (o[inexact] == hi[inexact]).mean() > 0.2 and (o[inexact] == lo[inexact]).mean() > 0.2


def test_rule_edge_cases():
    key = 12345
    z = np.array([0.0, -0.0], np.float32)
    for dt in HALF:
        out = S.stochastic_round(z, dt, key)
        np.testing.assert_array_equal(_bits(out), [0x0000, 0x8000])
    # float16's subnormal step is 2^-24: 0.25 of it rounds up a quarter of the time.
    n = 200_000
    for v in (2.0**-26, 3 * 2.0**-26, 2.0**-24 + 2.0**-26, 2.0**-14 - 2.0**-26, 2.0**-34):
        out = S.stochastic_round(np.full(n, v, np.float32), F16, key).astype(np.float64)
        lo, hi = _neighbours(np.float32(v), F16)
        assert set(np.unique(out)) <= {float(lo), float(hi)}
        _assert_unbiased(out, v, float(lo), float(hi))
    # Values near and past the largest finite value.
    x = np.array([65504.0, 65500.0, 65510.0, 65519.0, 65520.0, 1e6, -65510.0], np.float32)
    out = S.stochastic_round(x, F16, key).astype(np.float32)
    assert out[0] == 65504.0 and out[1] in (65472.0, 65504.0)
    np.testing.assert_array_equal(out[2:], [65504.0, 65504.0, np.inf, np.inf, -65504.0])
    bmax = float(ml_dtypes.finfo(BF16).max)
    x = np.array([bmax, np.nextafter(np.float32(bmax), np.float32(np.inf)),
                  np.float32(3.4028235e38), -np.inf, np.inf], np.float32)
    out = S.stochastic_round(x, BF16, key).astype(np.float32)
    np.testing.assert_array_equal(out, [bmax, bmax, np.inf, -np.inf, np.inf])
    out = S.stochastic_round(np.array([np.nan, -np.nan], np.float32), BF16, key)
    assert np.isnan(out.astype(np.float32)).all()


def _assert_unbiased(samples, x, lo, hi):
    n = samples.size
    p = (x - lo) / (hi - lo)
    sigma = (hi - lo) * np.sqrt(max(p * (1 - p), 1.0 / n) / n)
    assert abs(samples.mean() - x) <= 5 * sigma, (x, samples.mean(), sigma)


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
def test_roundings_are_unbiased(dtype):
    """N roundings of x (N element indices) average to x within 5 binomial sigmas."""
    rng = np.random.default_rng()
    n = 400_000
    for x in rng.standard_normal(6).astype(np.float32):
        key = int(rng.integers(0, 2**63))
        lo, hi = _neighbours(x, dtype)
        if lo == hi:
            continue
        native = np.empty(n, dtype)
        _native._core._stochastic_round(np.full(n, x, np.float32), native, key, 0)
        _assert_unbiased(native.astype(np.float64), float(x), float(lo), float(hi))


# ----------------------------------------------------------------- optimizers: keyword
def test_keyword_checked_by_name():
    p = [np.zeros(3, np.float32)]
    for bad in ("yes", 2, None, 1.0):
        with pytest.raises((TypeError, ValueError), match="stochastic_rounding"):
            fo.Adam(p, stochastic_rounding=bad)
    for name in MULTI_PASS:
        params = [np.zeros((4, 4), np.float32)]
        with pytest.raises(ValueError, match="stochastic_rounding"):
            getattr(fo, name)(params, lr=0.1, stochastic_rounding=True)
        assert getattr(fo, name)(params, lr=0.1).stochastic_rounding is False
    opt = fo.SGD(p, lr=0.1, stochastic_rounding=True)
    assert opt.stochastic_rounding is True and 0 <= opt.rounding_seed < 2**64
    assert fo.SGD(p, lr=0.1).stochastic_rounding is False


def test_old_pickles_load_with_it_off():
    opt = fo.Adam([np.zeros(3, BF16)], lr=0.1)
    state = opt.__getstate__()
    del state["stochastic_rounding"], state["rounding_seed"]
    old = fo.Adam.__new__(fo.Adam)
    old.__setstate__(state)
    assert old.stochastic_rounding is False and isinstance(old.rounding_seed, int)
    old.step([np.ones(3, BF16)])
    new = pickle.loads(pickle.dumps(fo.Adam([np.zeros(3, BF16)], stochastic_rounding=True)))
    assert new.stochastic_rounding is True


def test_float32_and_float64_unaffected():
    rng = np.random.default_rng()
    for dtype in (np.float32, np.float64):
        p0 = _make(rng, SHAPES, dtype)
        grads = [_make(rng, SHAPES, dtype) for _ in range(3)]
        runs = []
        for sr in (False, True):
            ps = [p.copy() for p in p0]
            opt = fo.Adam(ps, lr=0.01, stochastic_rounding=sr)
            for g in grads:
                opt.step(g)
            runs.append(ps)
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------ optimizers: native vs reference
VARIANTS = {"own": dict(), "f32-state": dict(state_dtype=np.float32),
            "master": dict(master_weights=True)}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
@pytest.mark.parametrize("cfg", ONE_PASS, ids=ONE_PASS_IDS)
def test_native_matches_reference(cfg, dtype, variant):
    """4 steps, each from the same params and state (the native optimizer's): the same
    random bits, so the 16-bit results agree except where float32 arithmetic differs
    (module docstring)."""
    name, kw = cfg
    rng = np.random.default_rng()
    shapes = shapes_for(name, SHAPES)
    params = _make(rng, shapes, dtype)
    opt = getattr(fo, name)(params, stochastic_rounding=True, **VARIANTS[variant], **kw)
    tie = sign_tie_slack(cfg) or 0.0
    inexact = total_off = total_beyond = 0
    for step in range(4):
        mine = [p.copy() for p in params]
        ref = getattr(R, name)(mine, stochastic_rounding=True, **VARIANTS[variant], **kw)
        if step:
            ref.load_state_dict(opt.state_dict())
        else:
            ref.rounding_seed = opt.rounding_seed
        grads = _make(rng, shapes, dtype, 0.5)
        opt.step(grads)
        ref.step(grads)
        pairs = [(f"param {i}", params[i], mine[i]) for i in range(len(params))]
        pairs += [(f"state {i} {k}", v, ref.state[i][k]) for i in opt.state
                  for k, v in opt.state[i].items() if isinstance(v, np.ndarray) and v.ndim > 0]
        for what, a, b in pairs:
            if a.dtype.itemsize != 2 or a.size == 0:
                continue
            a, b = np.atleast_1d(a), np.atleast_1d(b)
            off = _bits(a) != _bits(b)
            both_nan = np.isnan(a.astype(np.float32)) & np.isnan(b.astype(np.float32))
            off &= ~both_nan
            d = _ulps(a, b)[off]
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))[off]
            scale = float(np.max(np.abs(b.astype(np.float64)))) if b.size else 0.0
            beyond = ~((d <= 1) | (diff <= max(2.0**-20 * scale, tie)))
            # per array, caps far above the measured tails (module docstring)
            assert off.sum() <= max(16, a.size // 100), f"step {step + 1} {what}: {off.sum()}"
            assert beyond.sum() <= max(8, a.size // 2000), f"step {step + 1} {what}: {d}"
            total_off += int(off.sum())
            total_beyond += int(beyond.sum())
            inexact += a.size
    assert inexact > 0
    # the rates, over every array and step of the test
    assert total_off <= inexact // 500 + 8, (total_off, inexact)
    assert total_beyond <= inexact // 5000 + 8, (total_beyond, inexact)


# ------------------------------------------------------------ reproducibility, bitwise
def _run(name, dtype, seed, steps, grads_seed, threads=None, general=False, shapes=None, **kw):
    rng = np.random.default_rng(grads_seed)
    shapes = shapes or [(200_003,), (31, 33), (7,)]
    params = _make(rng, shapes, dtype)
    opt = getattr(fo, name)(params, stochastic_rounding=True, **kw)
    opt.rounding_seed = seed
    before = _native.get_num_threads()
    try:
        if threads:
            _native.set_num_threads(threads)
        for _ in range(steps):
            g = _make(rng, shapes, dtype, 0.5)
            if general:
                opt._fast = None  # no plan to reuse: the general path every step
            opt.step(g)
    finally:
        _native.set_num_threads(before)
    return params, opt


def _same(a_list, b_list):
    for a, b in zip(a_list, b_list):
        np.testing.assert_array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize("dtype", HALF, ids=HALF_IDS)
def test_thread_counts_give_the_same_bits(dtype):
    seed = int(np.random.default_rng().integers(0, 2**63))
    a, oa = _run("Adam", dtype, seed, 4, 7, threads=1)
    b, ob = _run("Adam", dtype, seed, 4, 7, threads=2)
    _same(a, b)
    _same([oa.state[0]["exp_avg"]], [ob.state[0]["exp_avg"]])


@pytest.mark.parametrize("kw", [dict(), dict(master_weights=True), dict(state_dtype=np.float32)],
                         ids=["own", "master", "f32-state"])
def test_plan_and_general_path_give_the_same_bits(kw):
    seed = int(np.random.default_rng().integers(0, 2**63))
    a, oa = _run("Adam", BF16, seed, 5, 8, **kw)
    b, ob = _run("Adam", BF16, seed, 5, 8, general=True, **kw)
    assert oa._fast is not None
    _same(a, b)
    for k, v in oa.state[0].items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v.view(np.uint8), ob.state[0][k].view(np.uint8))


_CHILD = """
import hashlib, sys, numpy as np, ml_dtypes, fusedoptim as fo
assert fo.build_info()["isa"] == sys.argv[1]
rng = np.random.default_rng(5)
for name, kw in [("SGD", dict(lr=2.0**-7, momentum=0.5)), ("Adam", dict(lr=0.01))]:
    out = hashlib.sha256()
    for dt in (np.float16, ml_dtypes.bfloat16):
        ps = [rng.standard_normal(s).astype(np.float32).astype(dt) for s in [(100_003,), (37,)]]
        opt = getattr(fo, name)(ps, stochastic_rounding=True, **kw)
        opt.rounding_seed = 99
        for _ in range(3):
            opt.step([rng.standard_normal(p.shape).astype(np.float32).astype(dt) for p in ps])
        for p in ps:
            out.update(p.tobytes())
        for k, v in opt.state[0].items():
            if isinstance(v, np.ndarray):
                out.update(v.tobytes())
    print(name, out.hexdigest())
"""


def test_isa_paths_give_the_same_bits():
    """Each ISA path in a child process (FUSEDOPTIM_ISA). The random bits and the rule are
    the same on every path (test_native_rule_matches_numpy_on_every_isa); the float32
    arithmetic before the rounding differs between the scalar path and the vector paths by
    FMA contraction only (test_native_vs_reference.py). So: SGD with a power-of-two lr and
    momentum 0.5 (every product exact, one rounding per sum, FMA or not) gives the same
    bits on every path; Adam the same bits on the vector paths (AVX2, AVX-512)."""
    digests = {}
    for isa in ISAS:
        env = dict(os.environ, FUSEDOPTIM_ISA=isa)
        r = subprocess.run([sys.executable, "-c", _CHILD, isa], env=env, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        digests[isa] = dict(line.split() for line in r.stdout.strip().splitlines())
    assert len({d["SGD"] for d in digests.values()}) == 1, digests
    vector = [isa for isa in digests if isa != "scalar"]
    assert len({digests[isa]["Adam"] for isa in vector}) <= 1, digests


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("Lion", dict(lr=1e-3)), ("NAdam", dict(lr=0.01))])
def test_state_dict_resumes_bitwise(name, kw):
    """Saving after 3 steps, loading into a fresh optimizer (another seed) and going on
    gives the bits of never stopping (SGD and Lion, which keep no "step", too)."""
    rng = np.random.default_rng()
    shapes = [(5000,), (3, 7)]
    p0 = _make(rng, shapes, BF16)
    grads = [_make(rng, shapes, BF16, 0.5) for _ in range(6)]
    whole = [p.copy() for p in p0]
    opt = getattr(fo, name)(whole, stochastic_rounding=True, **kw)
    for g in grads:
        opt.step(g)
    part = [p.copy() for p in p0]
    first = getattr(fo, name)(part, stochastic_rounding=True, **kw)
    first.rounding_seed = opt.rounding_seed
    for g in grads[:3]:
        first.step(g)
    sd = pickle.loads(pickle.dumps(first.state_dict()))
    assert sd["rounding_seed"] == opt.rounding_seed
    resumed = [p.copy() for p in part]
    again = getattr(fo, name)(resumed, stochastic_rounding=True, **kw)
    assert again.rounding_seed != opt.rounding_seed
    again.load_state_dict(sd)
    for g in grads[3:]:
        again.step(g)
    _same(whole, resumed)


def test_state_dict_seed_checked():
    opt = fo.Adam([np.zeros(3, BF16)], stochastic_rounding=True)
    sd = opt.state_dict()
    for bad in (-1, 2**64, 1.5, "7", True):
        with pytest.raises(ValueError, match="rounding_seed"):
            opt.load_state_dict(dict(sd, rounding_seed=bad))
    seed = opt.rounding_seed
    opt.load_state_dict({k: v for k, v in sd.items() if k != "rounding_seed"})
    assert opt.rounding_seed == seed
    opt.load_state_dict(dict(sd, rounding_seed=2**64 - 1))
    assert opt.rounding_seed == 2**64 - 1


def test_different_seeds_and_steps_differ():
    a, _ = _run("Adam", BF16, 1, 2, 9)
    b, _ = _run("Adam", BF16, 2, 2, 9)
    c, _ = _run("Adam", BF16, 1, 2, 9)
    _same(a, c)
    assert (_bits(a[0]) != _bits(b[0])).mean() > 0.05
    # Different tensors, operands and steps draw different bits.
    keys = {S.rounding_key(1, s, t, k) for s in (1, 2) for t in (0, 1) for k in (0, 2, 3)}
    assert len(keys) == 12


def test_small_updates_survive_in_expectation():
    """bfloat16 params at 1.0, SGD lr 1e-4, grads 1: round to nearest keeps 1.0 forever
    (the update is below half an ulp), stochastic rounding moves the mean by lr * steps."""
    n, steps, lr = 20_000, 300, 1e-4
    runs = {}
    for sr in (False, True):
        p = [np.ones(n, BF16)]
        opt = fo.SGD(p, lr=lr, stochastic_rounding=sr)
        g = [np.ones(n, BF16)]
        for _ in range(steps):
            opt.step(g)
        runs[sr] = p[0].astype(np.float64)
    assert np.all(runs[False] == 1.0)
    want = 1.0 - lr * steps
    # Each step's rounding adds independent noise of at most an ulp (2^-8 below 1) with
    # mean 0: the mean over n params is within a few ulp / sqrt(n / steps).
    assert abs(runs[True].mean() - want) < 5 * 2.0**-8 * np.sqrt(steps / n), runs[True].mean()
