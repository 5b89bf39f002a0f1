"""fusedoptim.schedules: every function against its closed form (written out here
from the formulas) at step 0, at each boundary -1, 0, +1 and at and past the end;
optax's documented and tested values; the step types accepted; bad input; a
callable lr driving an optimizer (first update uses lr(0)); and every schedule
surviving pickle and deepcopy (alone and in an optimizer's state_dict).

Tolerance: 1e-12 relative (plus 1e-15 absolute for values at 0): the closed forms
here group the operations differently from the library; golden values copied from
optax (computed by JAX in float32) to their printed precision.
"""
import copy
import inspect
import math
import pickle

import numpy as np
import pytest

import fusedoptim
from fusedoptim import schedules as S

RTOL, ATOL = 1e-12, 1e-15


def around(*boundaries, end=None):
    """0, each boundary -1/0/+1, the end and beyond: the steps where schedules change."""
    pts = {0, 1}
    for b in boundaries:
        pts |= {b - 1, b, b + 1}
    if end is not None:
        pts |= {end - 1, end, end + 1, 2 * end + 3}
    return sorted(p for p in pts if p >= 0)


def check(fn, ref, steps):
    assert callable(fn)
    for t in steps:
        v = fn(t)
        assert type(v) is float, (t, type(v))
        assert v == pytest.approx(ref(t), rel=RTOL, abs=ATOL), f"step {t}"
        assert fn(np.int64(t)) == v and fn(np.int32(t)) == v
        if t < 2**16:
            assert fn(np.uint16(t)) == v


# ------------------------------------------------------------ the lectures'
def test_constant():
    check(S.constant_schedule(0.3), lambda t: 0.3, [0, 1, 17, 10**9])
    check(S.constant_schedule(0), lambda t: 0.0, [0, 5])


def test_piecewise_constant_lectures_form():
    rates, bounds = [0.1, 0.05, 0.01, 0.002], [10, 20, 35]

    def ref(t):
        if t < 10:
            return 0.1
        if t < 20:
            return 0.05
        return 0.01 if t < 35 else 0.002

    check(S.piecewise_constant_schedule(rates, bounds), ref, around(10, 20, 35, end=35))
    check(S.piecewise_constant_schedule(np.array(rates), tuple(bounds)), ref, around(10, 20, 35))
    check(S.piecewise_constant_schedule([0.2]), lambda t: 0.2, [0, 100])
    check(S.piecewise_constant_schedule([0.2, 0.1], [0]), lambda t: 0.1, [0, 1])


def test_step_decay():
    check(S.step_decay_schedule(0.2, 0.5, 7), lambda t: 0.2 * 0.5 ** math.floor(t / 7),
          around(7, 14, 21, end=70))
    check(S.step_decay_schedule(1.0, 0.1, every=3), lambda t: 0.1 ** (t // 3), around(3, 6, 9))


def test_exponential_time_decay():
    check(S.exponential_time_decay_schedule(0.1, 0.01), lambda t: 0.1 * math.exp(-0.01 * t),
          around(end=500))
    check(S.exponential_time_decay_schedule(0.1, 0.0), lambda t: 0.1, [0, 10])


def test_inverse_time_decay():
    check(S.inverse_time_decay_schedule(0.1, 0.5), lambda t: 0.1 / (1 + 0.5 * t), around(end=100))


def test_inverse_linear_and_quadratic_decay():
    check(S.inverse_linear_decay_schedule(0.3), lambda t: 0.3 / (t + 1), around(end=100))
    check(S.inverse_quadratic_decay_schedule(0.3), lambda t: 0.3 / (t + 1) ** 2, around(end=100))
    assert S.inverse_linear_decay_schedule(1.0)(0) == 1.0
    assert S.inverse_quadratic_decay_schedule(1.0)(1) == 0.25


# ---------------------------------------------------------------- optax's
def _exp_ref(init, T, r, B=0, stair=False, end=None):
    def ref(t):
        if t - B <= 0:
            v = init
        else:
            p = (t - B) / T
            v = init * r ** (math.floor(p) if stair else p)
        if end is not None:
            v = max(v, end) if r < 1 else min(v, end)
        return v
    return ref


@pytest.mark.parametrize("kw", [
    dict(init_value=1.0, transition_steps=10, decay_rate=0.5),
    dict(init_value=1.0, transition_steps=10, decay_rate=0.5, transition_begin=5),
    dict(init_value=0.3, transition_steps=7, decay_rate=0.8, transition_begin=3, staircase=True),
    dict(init_value=1.0, transition_steps=10, decay_rate=0.5, end_value=0.2),
    dict(init_value=0.5, transition_steps=4, decay_rate=2.0, staircase=True, end_value=3.0),
    dict(init_value=0.1, transition_steps=10, decay_rate=0.9, end_value=0.5),  # clip at once
])
def test_exponential_decay(kw):
    fn = S.exponential_decay(**kw)
    ref = _exp_ref(kw["init_value"], kw["transition_steps"], kw["decay_rate"],
                   kw.get("transition_begin", 0), kw.get("staircase", False), kw.get("end_value"))
    B, T = kw.get("transition_begin", 0), kw["transition_steps"]
    check(fn, ref, around(B, B + T, B + 2 * T, B + 3 * T, end=B + 10 * T))


def test_exponential_decay_defaults_and_positional_order():
    fn = S.exponential_decay(1.0, 10, 0.5)   # (init_value, transition_steps, decay_rate)
    assert fn(10) == 0.5 and fn(20) == 0.25 and fn(5) == pytest.approx(0.5 ** 0.5, rel=RTOL)


def test_piecewise_constant_optax_form():
    fn = S.piecewise_constant_schedule(0.1, {15: 0.5, 5: 2.0, 30: 0.1})

    def ref(t):
        return 0.1 * (2.0 if t >= 5 else 1) * (0.5 if t >= 15 else 1) * (0.1 if t >= 30 else 1)

    check(fn, ref, around(5, 15, 30, end=30))
    doc = S.piecewise_constant_schedule(init_value=1.0, boundaries_and_scales={100: 0.1, 200: 0.01})
    assert (doc(50), doc(150)) == (1.0, 0.1) and doc(250) == pytest.approx(0.001, rel=RTOL)
    check(S.piecewise_constant_schedule(0.7), lambda t: 0.7, [0, 9])
    check(S.piecewise_constant_schedule(0.7, {}), lambda t: 0.7, [0, 9])


def _poly_ref(I, E, P, T, B=0):
    def ref(t):
        if t < B:
            return I
        if t >= B + T:
            return E
        return (I - E) * (1 - (t - B) / T) ** P + E
    return ref


def test_polynomial_schedule():
    fn = S.polynomial_schedule(init_value=1.0, end_value=0.01, power=2, transition_steps=100,
                               transition_begin=5)
    check(fn, _poly_ref(1.0, 0.01, 2, 100, 5), around(5, 105, end=105))
    # optax's docstring: count 0, 5, 6, 104, 105, 110
    assert [round(fn(t), 4) for t in (0, 5, 6, 104, 105, 110)] == [1.0, 1.0, 0.9803, 0.0101,
                                                                   0.01, 0.01]
    check(S.polynomial_schedule(0.5, 0.1, 0.5, 40), _poly_ref(0.5, 0.1, 0.5, 40), around(40))
    # optax: transition_steps <= 0 disables the transition
    check(S.polynomial_schedule(0.5, 0.1, 2, 0), lambda t: 0.5, [0, 1, 100])


def test_linear_schedule():
    fn = S.linear_schedule(init_value=1.0, end_value=0.01, transition_steps=100)
    check(fn, lambda t: 1.0 + min(t, 100) / 100 * (0.01 - 1.0), around(100, end=100))
    assert fn(0) == 1.0 and fn(100) == 0.01
    fn = S.linear_schedule(0.0, 0.2, 10, transition_begin=4)
    check(fn, lambda t: 0.0 if t < 4 else 0.2 * min(t - 4, 10) / 10, around(4, 14, end=14))


def _cos_ref(I, D, alpha=0.0, p=1.0):
    def ref(t):
        c = 0.5 * (1 + math.cos(math.pi * min(t, D) / D))
        return I * ((1 - alpha) * c ** p + alpha)
    return ref


def test_cosine_decay_schedule():
    check(S.cosine_decay_schedule(0.1, 100), _cos_ref(0.1, 100), around(50, end=100))
    check(S.cosine_decay_schedule(0.1, 100, alpha=0.1), _cos_ref(0.1, 100, 0.1), around(end=100))
    fn = S.cosine_decay_schedule(init_value=0.1, decay_steps=100, alpha=0.0, exponent=2)
    check(fn, _cos_ref(0.1, 100, 0.0, 2), around(end=100))
    # optax's test values (float32)
    got = [fn(t) for t in (0, 10, 50, 75, 100)]
    np.testing.assert_allclose(got, [0.1, 0.09516553580760956, 0.025, 0.0021446612663567066, 0.0],
                               rtol=1e-6, atol=1e-8)
    assert S.cosine_decay_schedule(1000.0, int(1e10))(int(1e9)) == pytest.approx(
        1000.0 * 0.5 * (1 + math.cos(math.pi * 0.1)), rel=RTOL)


def _wcd_ref(I, P, W, D, E=0.0, p=1.0):
    cos = _cos_ref(P, D - W, 0.0 if P == 0 else E / P, p)

    def ref(t):
        return (I - P) * (1 - t / W) + P if t < W else cos(t - W)
    return ref


def test_warmup_cosine_decay_schedule():
    fn = S.warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=10,
                                        decay_steps=110, end_value=0.05)
    check(fn, _wcd_ref(0.0, 1.0, 10, 110, 0.05), around(10, 60, end=110))
    assert fn(0) == 0.0 and fn(10) == 1.0 and fn(110) == pytest.approx(0.05, rel=RTOL)
    fn = S.warmup_cosine_decay_schedule(0.01, 0.1, 5, 25, exponent=2.0)
    check(fn, _wcd_ref(0.01, 0.1, 5, 25, 0.0, 2.0), around(5, 25, end=25))
    # warmup_steps=0: the cosine from step 0
    check(S.warmup_cosine_decay_schedule(0.0, 0.2, 0, 50), _cos_ref(0.2, 50), around(end=50))


def test_warmup_constant_schedule():
    check(S.warmup_constant_schedule(0.0, 0.5, 20), lambda t: 0.5 * min(t, 20) / 20,
          around(20, end=20))
    check(S.warmup_constant_schedule(0.1, 0.5, 4), lambda t: 0.1 + 0.4 * min(t, 4) / 4, around(4))


def test_warmup_exponential_decay_schedule():
    kw = dict(init_value=0.0, peak_value=1.0, warmup_steps=10, transition_steps=5,
              decay_rate=0.5, transition_begin=3, staircase=True, end_value=0.1)
    exp = _exp_ref(1.0, 5, 0.5, 3, True, 0.1)
    check(S.warmup_exponential_decay_schedule(**kw),
          lambda t: t / 10 if t < 10 else exp(t - 10), around(10, 13, 18, 23, 28, end=40))
    fn = S.warmup_exponential_decay_schedule(0.1, 0.2, 4, 10, 0.9)
    exp = _exp_ref(0.2, 10, 0.9)
    check(fn, lambda t: 0.1 + 0.1 * t / 4 if t < 4 else exp(t - 4), around(4, 14, end=30))


def test_piecewise_interpolate_schedule():
    # optax's tests
    lin = S.piecewise_interpolate_schedule("linear", 200.0, {5: 1.5, 10: 0.25})
    assert [lin(t) for t in range(13)] == pytest.approx(
        [200.0, 220.0, 240.0, 260.0, 280.0, 300.0, 255.0, 210.0, 165.0, 120.0, 75.0, 75.0, 75.0],
        rel=RTOL)
    cos = S.piecewise_interpolate_schedule("cosine", 400.0, {5: 1.2, 3: 0.6, 7: 1.0})
    assert [cos(t) for t in range(9)] == pytest.approx(
        [400.0, 360.0, 280.0, 240.0, 264.0, 288.0, 288.0, 288.0, 288.0], rel=RTOL)
    assert [S.piecewise_interpolate_schedule("linear", 13.0, {})(t) for t in range(3)] == [13.0] * 3
    assert [S.piecewise_interpolate_schedule("cosine", 17.0)(t) for t in range(3)] == [17.0] * 3
    zero = S.piecewise_interpolate_schedule("linear", 13.0, {0: 2.0, 5: 3.0})
    assert zero(0) == 26.0 and zero(5) == 78.0 and all(math.isfinite(zero(t)) for t in range(6))
    # the closed form around every boundary
    I, pairs = 0.5, [(4, 2.0), (10, 0.1), (30, 0.5)]
    bounds, vals = [0] + [b for b, _ in pairs], [I]
    for _, s in pairs:
        vals.append(vals[-1] * s)
    for kind, f in (("linear", lambda a, b, x: a + (b - a) * x),
                    ("cosine", lambda a, b, x: b + (a - b) * (1 + math.cos(math.pi * x)) / 2)):
        def ref(t, f=f):
            for i in range(len(pairs)):
                if bounds[i] <= t < bounds[i + 1]:
                    return f(vals[i], vals[i + 1], (t - bounds[i]) / (bounds[i + 1] - bounds[i]))
            return vals[-1]
        check(S.piecewise_interpolate_schedule(kind, I, dict(pairs)), ref,
              around(4, 10, 30, end=30))


def test_linear_onecycle_schedule():
    fn = S.linear_onecycle_schedule(transition_steps=10, peak_value=1000, pct_start=0.3,
                                    pct_final=0.7, div_factor=10.0, final_div_factor=100.0)
    assert [fn(t) for t in range(12)] == pytest.approx(  # optax's test
        [100.0, 400.0, 700.0, 1000.0, 775.0, 550.0, 325.0, 100.0, 67.0, 34.0, 1.0, 1.0], rel=RTOL)
    T, P = 1000, 0.1   # defaults: pct_start 0.3, pct_final 0.85, div 25, final div 1e4
    lo, end = P / 25, P / 25 / 1e4

    def ref(t):
        if t < 300:
            return lo + (P - lo) * t / 300
        if t < 850:
            return P + (lo - P) * (t - 300) / 550
        if t < 1000:
            return lo + (end - lo) * (t - 850) / 150
        return end
    check(S.linear_onecycle_schedule(T, P), ref, around(300, 850, end=1000))


def test_cosine_onecycle_schedule():
    fn = S.cosine_onecycle_schedule(transition_steps=5, peak_value=1000.0, pct_start=0.4,
                                    div_factor=10.0, final_div_factor=100.0)
    assert [fn(t) for t in range(7)] == pytest.approx(  # optax's test
        [100.0, 550.0, 1000.0, 750.25, 250.75, 1.0, 1.0], rel=RTOL)
    T, P = 1000, 0.1
    lo, end = P / 25, P / (25 * 1e4)

    def cosi(a, b, x):
        return b + (a - b) * (1 + math.cos(math.pi * x)) / 2

    def ref(t):
        if t < 300:
            return cosi(lo, P, t / 300)
        return cosi(P, end, (t - 300) / 700) if t < 1000 else end
    check(S.cosine_onecycle_schedule(T, P), ref, around(300, end=1000))


def test_sgdr_schedule():
    cycles = [dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=50),
              dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=30, end_value=0.01),
              dict(init_value=0.0, peak_value=0.2, warmup_steps=3, decay_steps=20, exponent=2.0)]
    refs = [_wcd_ref(0.0, 1.0, 5, 50), _cos_ref(0.5, 30, 0.01 / 0.5), _wcd_ref(0.0, 0.2, 3, 20,
                                                                                 0.0, 2.0)]

    def ref(t):
        if t < 50:
            return refs[0](t)
        return refs[1](t - 50) if t < 80 else refs[2](t - 80)
    check(S.sgdr_schedule(cycles), ref, around(5, 50, 80, 83, end=100))


def test_join_schedules():
    fn = S.join_schedules([S.constant_schedule(1.0), S.linear_schedule(1.0, 0.0, 10),
                           lambda t: 0.3 + t], [5, 20])

    def ref(t):
        if t < 5:
            return 1.0
        return 1.0 - min(t - 5, 10) / 10 if t < 20 else 0.3 + (t - 20)
    check(fn, ref, around(5, 15, 20, end=25))
    check(S.join_schedules([S.constant_schedule(0.2)], []), lambda t: 0.2, [0, 7])


# -------------------------------------------------------------- steps accepted
def test_step_types():
    fn = S.cosine_decay_schedule(0.1, 100)
    assert fn(np.float64(2.5)) == pytest.approx(_cos_ref(0.1, 100)(2.5), rel=RTOL)
    assert fn(np.array(7)) == fn(7)       # a 0-d array from a NumPy counter
    for bad, exc in ((-1, ValueError), (np.int64(-3), ValueError), ("3", TypeError),
                     (None, TypeError), (math.nan, ValueError), (1j, TypeError)):
        with pytest.raises(exc, match="step"):
            fn(bad)


# ------------------------------------------------------------ optax's signatures
_E = inspect.Parameter.empty
OPTAX_SIGNATURES = {  # from optax/schedules/_schedule.py and _join.py
    "constant_schedule": [("value", _E)],
    "polynomial_schedule": [("init_value", _E), ("end_value", _E), ("power", _E),
                            ("transition_steps", _E), ("transition_begin", 0)],
    "linear_schedule": [("init_value", _E), ("end_value", _E), ("transition_steps", _E),
                        ("transition_begin", 0)],
    "piecewise_constant_schedule": [("init_value", _E), ("boundaries_and_scales", None)],
    "exponential_decay": [("init_value", _E), ("transition_steps", _E), ("decay_rate", _E),
                          ("transition_begin", 0), ("staircase", False), ("end_value", None)],
    "cosine_decay_schedule": [("init_value", _E), ("decay_steps", _E), ("alpha", 0.0),
                              ("exponent", 1.0)],
    "piecewise_interpolate_schedule": [("interpolate_type", _E), ("init_value", _E),
                                       ("boundaries_and_scales", None)],
    "linear_onecycle_schedule": [("transition_steps", _E), ("peak_value", _E), ("pct_start", 0.3),
                                 ("pct_final", 0.85), ("div_factor", 25.0),
                                 ("final_div_factor", 1e4)],
    "cosine_onecycle_schedule": [("transition_steps", _E), ("peak_value", _E), ("pct_start", 0.3),
                                 ("div_factor", 25.0), ("final_div_factor", 1e4)],
    "warmup_constant_schedule": [("init_value", _E), ("peak_value", _E), ("warmup_steps", _E)],
    "warmup_cosine_decay_schedule": [("init_value", _E), ("peak_value", _E), ("warmup_steps", _E),
                                     ("decay_steps", _E), ("end_value", 0.0), ("exponent", 1.0)],
    "warmup_exponential_decay_schedule": [
        ("init_value", _E), ("peak_value", _E), ("warmup_steps", _E), ("transition_steps", _E),
        ("decay_rate", _E), ("transition_begin", 0), ("staircase", False), ("end_value", None)],
    "sgdr_schedule": [("cosine_kwargs", _E)],
    "join_schedules": [("schedules", _E), ("boundaries", _E)],
    # the lectures'
    "step_decay_schedule": [("init_value", _E), ("factor", _E), ("every", _E)],
    "exponential_time_decay_schedule": [("init_value", _E), ("rate", _E)],
    "inverse_time_decay_schedule": [("init_value", _E), ("k", _E)],
    "inverse_linear_decay_schedule": [("init_value", _E)],
    "inverse_quadratic_decay_schedule": [("init_value", _E)],
}


@pytest.mark.parametrize("name", sorted(OPTAX_SIGNATURES))
def test_signatures(name):
    sig = inspect.signature(getattr(S, name))
    assert [(p.name, p.default) for p in sig.parameters.values()] == OPTAX_SIGNATURES[name]
    assert name in S.__all__


# ----------------------------------------------------------------- bad input
BAD = [
    (lambda: S.constant_schedule(-0.1), ValueError, "value"),
    (lambda: S.constant_schedule(math.nan), ValueError, "value"),
    (lambda: S.constant_schedule("0.1"), TypeError, "value"),
    (lambda: S.piecewise_constant_schedule(-1.0, {5: 0.5}), ValueError, "init_value"),
    (lambda: S.piecewise_constant_schedule(1.0, {5: -0.5}), ValueError, "boundaries_and_scales"),
    (lambda: S.piecewise_constant_schedule(1.0, {5: math.nan}), ValueError,
     "boundaries_and_scales"),
    (lambda: S.piecewise_constant_schedule(1.0, [5, 10]), TypeError, "boundaries_and_scales"),
    (lambda: S.piecewise_constant_schedule([0.1, 0.01], [10, 20]), ValueError,
     "boundaries_and_scales"),
    (lambda: S.piecewise_constant_schedule([0.1, 0.05, 0.01], [20, 10]), ValueError,
     "increasing"),
    (lambda: S.piecewise_constant_schedule([0.1, 0.05, 0.01], [10, 10]), ValueError,
     "increasing"),
    (lambda: S.piecewise_constant_schedule([0.1, -0.05], [10]), ValueError, r"init_value\[1\]"),
    (lambda: S.piecewise_constant_schedule([0.1, math.nan], [10]), ValueError, r"init_value\[1\]"),
    (lambda: S.piecewise_constant_schedule([], []), ValueError, "init_value"),
    (lambda: S.piecewise_constant_schedule([0.1, 0.2], [-5]), ValueError, "boundaries"),
    (lambda: S.step_decay_schedule(0.1, 0.5, 0), ValueError, "every"),
    (lambda: S.step_decay_schedule(0.1, 0.5, -2), ValueError, "every"),
    (lambda: S.step_decay_schedule(0.1, -0.5, 2), ValueError, "factor"),
    (lambda: S.step_decay_schedule(-0.1, 0.5, 2), ValueError, "init_value"),
    (lambda: S.exponential_time_decay_schedule(0.1, -0.01), ValueError, "rate"),
    (lambda: S.exponential_time_decay_schedule(math.nan, 0.01), ValueError, "init_value"),
    (lambda: S.inverse_time_decay_schedule(0.1, -1.0), ValueError, "k"),
    (lambda: S.inverse_time_decay_schedule(0.1, math.nan), ValueError, "k"),
    (lambda: S.inverse_linear_decay_schedule(-1.0), ValueError, "init_value"),
    (lambda: S.inverse_quadratic_decay_schedule(math.inf), ValueError, "init_value"),
    (lambda: S.exponential_decay(0.1, 0, 0.5), ValueError, "transition_steps"),
    (lambda: S.exponential_decay(0.1, -10, 0.5), ValueError, "transition_steps"),
    (lambda: S.exponential_decay(0.1, 10, 0.0), ValueError, "decay_rate"),
    (lambda: S.exponential_decay(0.1, 10, -0.5), ValueError, "decay_rate"),
    (lambda: S.exponential_decay(0.1, 10, math.nan), ValueError, "decay_rate"),
    (lambda: S.exponential_decay(0.1, 10, 0.5, transition_begin=-1), ValueError,
     "transition_begin"),
    (lambda: S.exponential_decay(0.1, 10, 0.5, end_value=-1.0), ValueError, "end_value"),
    (lambda: S.exponential_decay(-0.1, 10, 0.5), ValueError, "init_value"),
    (lambda: S.polynomial_schedule(0.1, -0.1, 1, 10), ValueError, "end_value"),
    (lambda: S.polynomial_schedule(0.1, 0.0, math.nan, 10), ValueError, "power"),
    (lambda: S.polynomial_schedule(0.1, 0.0, -1.0, 10), ValueError, "power"),
    (lambda: S.polynomial_schedule(0.1, 0.0, 1, 10, transition_begin=-3), ValueError,
     "transition_begin"),
    (lambda: S.linear_schedule(math.nan, 0.0, 10), ValueError, "init_value"),
    (lambda: S.linear_schedule(0.1, 0.0, "10"), TypeError, "transition_steps"),
    (lambda: S.cosine_decay_schedule(0.1, 0), ValueError, "decay_steps"),
    (lambda: S.cosine_decay_schedule(0.1, -5), ValueError, "decay_steps"),
    (lambda: S.cosine_decay_schedule(0.1, 100, alpha=-0.1), ValueError, "alpha"),
    (lambda: S.cosine_decay_schedule(0.1, 100, exponent=math.nan), ValueError, "exponent"),
    (lambda: S.cosine_decay_schedule(-0.1, 100), ValueError, "init_value"),
    (lambda: S.warmup_cosine_decay_schedule(0.0, 0.1, 10, 10), ValueError, "decay_steps"),
    (lambda: S.warmup_cosine_decay_schedule(0.0, 0.1, 20, 10), ValueError, "decay_steps"),
    (lambda: S.warmup_cosine_decay_schedule(0.0, 0.1, -1, 10), ValueError, "warmup_steps"),
    (lambda: S.warmup_cosine_decay_schedule(0.0, -0.1, 1, 10), ValueError, "peak_value"),
    (lambda: S.warmup_cosine_decay_schedule(0.0, 0.1, 1, 10, end_value=-1), ValueError,
     "end_value"),
    (lambda: S.warmup_constant_schedule(0.0, 0.1, -5), ValueError, "warmup_steps"),
    (lambda: S.warmup_constant_schedule(0.0, math.nan, 5), ValueError, "peak_value"),
    (lambda: S.warmup_exponential_decay_schedule(0.0, -1.0, 5, 10, 0.5), ValueError,
     "peak_value"),
    (lambda: S.warmup_exponential_decay_schedule(0.0, 0.1, 5, 0, 0.5), ValueError,
     "transition_steps"),
    (lambda: S.warmup_exponential_decay_schedule(0.0, 0.1, -5, 10, 0.5), ValueError,
     "warmup_steps"),
    (lambda: S.piecewise_interpolate_schedule("linar", 13.0), ValueError, "interpolate_type"),
    (lambda: S.piecewise_interpolate_schedule(None, 13.0, {}), ValueError, "interpolate_type"),
    (lambda: S.piecewise_interpolate_schedule("linear", 13.0, {5: -3}), ValueError,
     "boundaries_and_scales"),
    (lambda: S.piecewise_interpolate_schedule("linear", 13.0, {-5: 3}), ValueError,
     "boundaries_and_scales"),
    (lambda: S.piecewise_interpolate_schedule("linear", -13.0), ValueError, "init_value"),
    (lambda: S.linear_onecycle_schedule(0, 5.0), ValueError, "transition_steps"),
    (lambda: S.cosine_onecycle_schedule(0, 5.0), ValueError, "transition_steps"),
    (lambda: S.cosine_onecycle_schedule(-10, 5.0), ValueError, "transition_steps"),
    (lambda: S.linear_onecycle_schedule(100, 5.0, pct_start=0.0), ValueError, "pct_start"),
    (lambda: S.linear_onecycle_schedule(100, 5.0, pct_start=1.0), ValueError, "pct_start"),
    (lambda: S.cosine_onecycle_schedule(100, 5.0, pct_start=1.2), ValueError, "pct_start"),
    (lambda: S.cosine_onecycle_schedule(100, 5.0, pct_start=-0.1), ValueError, "pct_start"),
    (lambda: S.cosine_onecycle_schedule(100, 5.0, pct_start=math.nan), ValueError, "pct_start"),
    (lambda: S.linear_onecycle_schedule(100, 5.0, pct_start=0.5, pct_final=0.4), ValueError,
     "pct_final"),
    (lambda: S.linear_onecycle_schedule(100, 5.0, pct_final=1.5), ValueError, "pct_final"),
    (lambda: S.linear_onecycle_schedule(100, -5.0), ValueError, "peak_value"),
    (lambda: S.cosine_onecycle_schedule(100, 5.0, div_factor=0), ValueError, "div_factor"),
    (lambda: S.cosine_onecycle_schedule(100, 5.0, final_div_factor=-1), ValueError,
     "final_div_factor"),
    (lambda: S.sgdr_schedule([]), ValueError, "cosine_kwargs"),
    (lambda: S.sgdr_schedule([dict(init_value=0.0, peak_value=0.1, warmup_steps=1)]), TypeError,
     "cosine_kwargs"),
    (lambda: S.sgdr_schedule([dict(init_value=0.0, peak_value=0.1, warmup_steps=5,
                                   decay_steps=0)]), ValueError,
     r"cosine_kwargs\[0\].*decay_steps"),
    (lambda: S.join_schedules([S.constant_schedule(1.0)] * 2, [5, 6]), ValueError, "boundaries"),
    (lambda: S.join_schedules([S.constant_schedule(1.0)] * 3, [10, 5]), ValueError, "increasing"),
    (lambda: S.join_schedules([S.constant_schedule(1.0)] * 3, [5, 5]), ValueError, "increasing"),
    (lambda: S.join_schedules([S.constant_schedule(1.0), 0.5], [5]), TypeError, r"schedules\[1\]"),
    (lambda: S.join_schedules([], []), ValueError, "schedules"),
]


@pytest.mark.parametrize("case", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input(case):
    make, exc, match = case
    with pytest.raises(exc, match=match):
        make()


# --------------------------------------------------- a schedule as the optimizer's lr
def test_callable_lr_first_update_uses_lr0():
    """SGD without momentum, lr = a schedule, a fixed gradient g: after k steps the params
    are p0 - sum_{t<k} lr(t) g, and param_groups[0]["lr"] stays the schedule."""
    rng = np.random.default_rng()
    p = rng.standard_normal(6)
    p0, g = p.copy(), rng.standard_normal(6)
    sched = S.warmup_cosine_decay_schedule(0.0, 0.1, 3, 12, end_value=0.01)
    opt = fusedoptim.SGD([p], lr=sched)
    for k in range(1, 16):
        opt.step([g])
        np.testing.assert_allclose(p, p0 - sum(sched(t) for t in range(k)) * g, rtol=1e-13,
                                   atol=1e-15)
    assert opt.param_groups[0]["lr"] is sched
    assert sched(0) == 0.0   # so the first update did nothing


# ------------------------------------------------------------------ pickling
PICKLED = {   # name -> a schedule built by it (every builder in __all__ at least once)
    "constant_schedule": S.constant_schedule(0.3),
    "piecewise_constant_schedule": S.piecewise_constant_schedule(0.1, {15: 0.5, 5: 2.0}),
    "piecewise_constant_schedule (lectures)": S.piecewise_constant_schedule([0.1, 0.05, 0.01],
                                                                            [10, 20]),
    "step_decay_schedule": S.step_decay_schedule(0.2, 0.5, 7),
    "exponential_time_decay_schedule": S.exponential_time_decay_schedule(0.1, 0.01),
    "inverse_time_decay_schedule": S.inverse_time_decay_schedule(0.1, 0.5),
    "inverse_linear_decay_schedule": S.inverse_linear_decay_schedule(0.3),
    "inverse_quadratic_decay_schedule": S.inverse_quadratic_decay_schedule(0.3),
    "exponential_decay": S.exponential_decay(1.0, 10, 0.5, transition_begin=5, staircase=True,
                                             end_value=0.2),
    "polynomial_schedule": S.polynomial_schedule(1.0, 0.01, 2, 100, transition_begin=5),
    "polynomial_schedule (no transition)": S.polynomial_schedule(0.5, 0.1, 2, 0),
    "linear_schedule": S.linear_schedule(0.0, 0.2, 10, transition_begin=4),
    "cosine_decay_schedule": S.cosine_decay_schedule(0.1, 100, alpha=0.1, exponent=2.0),
    "warmup_cosine_decay_schedule": S.warmup_cosine_decay_schedule(0.0, 1.0, 10, 110, 0.05),
    "warmup_constant_schedule": S.warmup_constant_schedule(0.1, 0.5, 4),
    "warmup_exponential_decay_schedule": S.warmup_exponential_decay_schedule(
        0.0, 1.0, 10, 5, 0.5, transition_begin=3, staircase=True, end_value=0.1),
    "piecewise_interpolate_schedule": S.piecewise_interpolate_schedule("linear", 200.0,
                                                                       {5: 1.5, 10: 0.25}),
    "piecewise_interpolate_schedule (cosine)": S.piecewise_interpolate_schedule(
        "cosine", 400.0, {5: 1.2, 3: 0.6, 7: 1.0}),
    "linear_onecycle_schedule": S.linear_onecycle_schedule(1000, 0.1),
    "cosine_onecycle_schedule": S.cosine_onecycle_schedule(1000, 0.1),
    "sgdr_schedule": S.sgdr_schedule(
        [dict(init_value=0.0, peak_value=1.0, warmup_steps=5, decay_steps=50),
         dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=30, end_value=0.01)]),
    "join_schedules": S.join_schedules([S.constant_schedule(1.0), S.linear_schedule(1.0, 0.0, 10),
                                        S.cosine_decay_schedule(0.5, 20)], [5, 15]),
}


def test_pickled_covers_every_builder():
    built = {name.split(" ")[0] for name in PICKLED}
    assert built == set(S.__all__) - {"plot_schedules"}


@pytest.mark.parametrize("name", sorted(PICKLED))
def test_schedule_pickles(name):
    """A schedule survives pickle (every protocol) and deepcopy: same values, same repr."""
    fn = PICKLED[name]
    steps = [0, 1, 3, 4, 5, 6, 9, 10, 11, 14, 15, 16, 29, 30, 50, 79, 80, 81, 299, 300, 1000,
             1001, 5000, 2.5, np.int64(7)]
    copies = [pickle.loads(pickle.dumps(fn, protocol=p))
              for p in range(2, pickle.HIGHEST_PROTOCOL + 1)] + [copy.deepcopy(fn)]
    for other in copies:
        assert other is not fn and type(other) is type(fn)
        assert repr(other) == repr(fn)
        for t in steps:
            assert other(t) == fn(t), (name, t)
    assert repr(fn).startswith(name.split(" ")[0] + "(")
    assert " at 0x" not in repr(fn)


def test_state_dict_with_schedule_lr_pickles():
    """An optimizer whose lr is a schedule: its state_dict pickles, and loads into a fresh
    optimizer, whose lr is then the same schedule (same values, same repr)."""
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(5), rng.standard_normal(5)
    sched = S.warmup_cosine_decay_schedule(0.0, 0.1, 3, 12, end_value=0.01)
    opt = fusedoptim.SGD([p], lr=sched, momentum=0.9)
    for _ in range(4):
        opt.step([g])
    sd = pickle.loads(pickle.dumps(opt.state_dict()))
    opt2 = fusedoptim.SGD([p.copy()], lr=0.5, momentum=0.9)
    opt2.load_state_dict(sd)
    lr = opt2.param_groups[0]["lr"]
    assert callable(lr) and repr(lr) == repr(sched)
    assert [lr(t) for t in range(20)] == [sched(t) for t in range(20)]
    opt2.step([g])
