"""Bad input raises TypeError/ValueError naming the parameter and the problem, and
leaves every param and state buffer exactly as it was."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import functional as F
from registry import assert_unchanged, snapshot


def _params(rng):
    return [rng.standard_normal((4, 3)), rng.standard_normal(5), rng.standard_normal(2)]


# ---------------------------------------------------------------- construction
def _readonly(a):
    a.flags.writeable = False
    return a


CONSTRUCTION = [
    ("empty list", lambda r: ([], {}), ValueError, "params"),
    ("one bare array", lambda r: (r.standard_normal(3), {}), TypeError, "params"),
    ("int64 param", lambda r: ([np.arange(3)], {}), TypeError, r"params\[0\].*int64"),
    ("complex param", lambda r: ([np.ones(3, complex)], {}), TypeError, r"params\[0\].*complex"),
    ("int32 param", lambda r: ([np.ones(3, np.int32)], {}), TypeError, r"params\[0\]"),
    ("list, not array", lambda r: ([[1.0, 2.0]], {}), TypeError, r"params\[0\].*ndarray"),
    ("non-contiguous", lambda r: ([np.ones(3), np.ones((4, 4))[:, ::2]], {}), ValueError,
     r"params\[1\].*contiguous"),
    ("read-only", lambda r: ([_readonly(np.ones(3))], {}), ValueError, r"params\[0\].*read-only"),
    ("big-endian", lambda r: ([np.ones(3, ">f8")], {}), TypeError, r"params\[0\]"),
    ("same array twice", lambda r: ((lambda a: [a, np.ones(2), a])(np.ones(3)), {}), ValueError,
     r"params\[2\].*shares memory|params\[0\].*shares memory"),
    ("overlapping views", lambda r: ((lambda a: [a[:6], a[4:]])(np.ones(10)), {}), ValueError,
     "shares memory"),
    ("negative lr", lambda r: (_params(r), {"lr": -0.1}), ValueError, "lr"),
    ("NaN lr", lambda r: (_params(r), {"lr": float("nan")}), ValueError, "lr"),
    ("beta1 = 1", lambda r: (_params(r), {"betas": (1.0, 0.9)}), ValueError, r"betas\[0\]"),
    ("beta2 < 0", lambda r: (_params(r), {"betas": (0.9, -0.1)}), ValueError, r"betas\[1\]"),
    ("negative eps", lambda r: (_params(r), {"eps": -1e-8}), ValueError, "eps"),
    ("negative weight_decay", lambda r: (_params(r), {"weight_decay": -1}), ValueError,
     "weight_decay"),
    ("unknown keyword", lambda r: (_params(r), {"foo": 1}), TypeError, "foo"),
]


@pytest.mark.parametrize("case", CONSTRUCTION, ids=[c[0] for c in CONSTRUCTION])
def test_bad_construction(case):
    _, make, exc, match = case
    params, kw = make(np.random.default_rng(0))
    with pytest.raises(exc, match=match):
        fusedoptim.Adam(params, **kw)


@pytest.mark.parametrize("cls, kw, match", [
    ("SGD", dict(momentum=-0.1), "momentum"),
    ("SGD", dict(nesterov=True), "nesterov"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "nesterov"),
    ("Adagrad", dict(lr_decay=-1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1), "initial_accumulator_value"),
    ("RMSprop", dict(alpha=-0.5), "alpha"),
    ("RMSprop", dict(momentum=-1), "momentum"),
    ("Rprop", dict(etas=(1.5, 1.2)), "etas"),
    ("Rprop", dict(step_sizes=(1.0, 0.1)), "step_sizes"),
    ("AdamW", dict(betas=(0.9,)), "betas"),
    ("Adamax", dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    ("Adamax", dict(eps=-1e-8), "eps"),
    ("NAdam", dict(momentum_decay=-1e-3), "momentum_decay"),
    ("NAdam", dict(betas=(1.0, 0.999)), r"betas\[0\]"),
    ("RAdam", dict(weight_decay=-0.1), "weight_decay"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(lr=-1.0), "lr"),
    ("ASGD", dict(lambd=-1e-4), "lambd"),
    ("ASGD", dict(t0=float("inf")), "t0"),
    ("Lion", dict(betas=(0.9, -0.1)), r"betas\[1\]"),
    ("Lion", dict(weight_decay=-0.1), "weight_decay"),
    ("LAMB", dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    ("LAMB", dict(eps=-1e-6), "eps"),
    ("LARS", dict(lr=0.1, trust_coefficient=-1e-3), "trust_coefficient"),
    ("LARS", dict(lr=0.1, momentum=-0.9), "momentum"),
    ("LARS", dict(lr=0.1, eps=float("nan")), "eps"),
])
def test_bad_hyperparameters(cls, kw, match):
    with pytest.raises(ValueError if cls != "AdamW" else TypeError, match=match):
        getattr(fusedoptim, cls)([np.ones(3)], **kw)


# ------------------------------------------------------------------------ step
def _stepped(rng, cls="Adam", groups=False, **kw):
    params = _params(rng)
    arg = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}] if groups else params
    opt = getattr(fusedoptim, cls)(arg, **kw)
    for _ in range(3):  # past the steps that create state: the reusable plan is in place
        opt.step([rng.standard_normal(p.shape) for p in params])
    assert opt._fast is not None or opt._multi_pass  # a step of several passes has no plan
    return opt, params


def _grads(params, rng):
    return [rng.standard_normal(p.shape) for p in params]


STEP_CASES = [
    ("no grads", lambda p, g: None, TypeError, "grads"),
    ("too few grads", lambda p, g: g[:2], ValueError, "grads.*3.*2"),
    ("not a list", lambda p, g: 3.0, TypeError, "grads"),
    ("shape mismatch", lambda p, g: [g[0], np.ones(6), g[2]], ValueError, r"grads\[1\].*shape"),
    ("transposed", lambda p, g: [g[0].T.copy(), g[1], g[2]], ValueError, r"grads\[0\].*shape"),
    ("dtype mismatch", lambda p, g: [g[0], g[1].astype(np.float32), g[2]], TypeError,
     r"grads\[1\].*float32"),
    ("int grad", lambda p, g: [g[0], g[1], np.array([1, 2])], TypeError, r"grads\[2\]"),
    ("non-contiguous grad", lambda p, g: [np.ones((4, 6))[:, ::2], g[1], g[2]], ValueError,
     r"grads\[0\].*contiguous"),
    ("grad is its param", lambda p, g: [g[0], p[1], g[2]], ValueError, r"grads\[1\].*shares memory"),
    ("grad views another param", lambda p, g: [g[0], g[1], p[1][:2]], ValueError,
     r"grads\[2\].*shares memory"),
    ("grad is a list", lambda p, g: [g[0], list(g[1]), g[2]], TypeError, r"grads\[1\].*ndarray"),
]


@pytest.mark.parametrize("cls", ["SGD", "Adam", "Rprop", "Adamax", "NAdam", "RAdam", "Adadelta",
                                 "ASGD", "Lion", "LAMB", "LARS"])
@pytest.mark.parametrize("case", STEP_CASES, ids=[c[0] for c in STEP_CASES])
def test_bad_step_changes_nothing(case, cls):
    _, make, exc, match = case
    rng = np.random.default_rng(1)
    opt, params = _stepped(rng, cls, groups=True, **({"momentum": 0.9} if cls == "SGD" else
                                                     {"lr": 0.1} if cls == "LARS" else {}))
    before = snapshot(opt)
    with pytest.raises(exc, match=match):
        opt.step(make(params, _grads(params, rng)))
    assert_unchanged(opt, before)


@pytest.mark.parametrize("key, value, match", [
    ("lr", -1.0, r"param_groups\[1\]\['lr'\]"),
    ("lr", float("nan"), r"param_groups\[1\]\['lr'\]"),
    ("betas", (0.9, 1.0), r"param_groups\[1\]\['betas'\]\[1\]"),
    ("eps", -1.0, r"param_groups\[1\]\['eps'\]"),
])
def test_bad_hyperparameter_set_between_steps(key, value, match):
    rng = np.random.default_rng(2)
    opt, params = _stepped(rng, groups=True)
    opt.param_groups[1][key] = value
    before = snapshot(opt)
    with pytest.raises(ValueError, match=match):
        opt.step(_grads(params, rng))
    assert_unchanged(opt, before)  # group 0 was fine, and is untouched too


def test_dict_grads_must_match_keys():
    rng = np.random.default_rng(3)
    params = {"w": rng.standard_normal(3), "b": rng.standard_normal(2)}
    opt = fusedoptim.SGD(params, lr=0.1, momentum=0.9)
    opt.step({"w": np.ones(3), "b": np.ones(2)})
    before = snapshot(opt)
    with pytest.raises(ValueError, match="missing key 'b'"):
        opt.step({"w": np.ones(3)})
    with pytest.raises(ValueError, match="unexpected key 'c'"):
        opt.step({"w": np.ones(3), "b": np.ones(2), "c": np.ones(1)})
    with pytest.raises(ValueError, match=r"grads\['b'\].*shape"):
        opt.step({"w": np.ones(3), "b": np.ones(3)})
    assert_unchanged(opt, before)


def test_first_step_failure_creates_no_state():
    rng = np.random.default_rng(4)
    params = _params(rng)
    before = [p.copy() for p in params]
    opt = fusedoptim.Adam(params)
    with pytest.raises(ValueError, match=r"grads\[2\].*shape"):
        opt.step([np.ones((4, 3)), np.ones(5), np.ones(3)])
    assert len(opt.state) == 0
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p, b)


def test_read_only_grads_are_fine():
    """Grads are only read: read-only ones give the same updates as writeable copies,
    on the general path and on the reused plan, and stay as they were."""
    rng = np.random.default_rng(5)
    params = _params(rng)
    init = [p.copy() for p in params]
    copies = [p.copy() for p in params]
    opt, twin = fusedoptim.Adam(params, lr=0.1), fusedoptim.Adam(copies, lr=0.1)
    for _ in range(3):  # state created, plan made, plan reused
        grads = _grads(params, rng)
        frozen = [_readonly(g.copy()) for g in grads]
        opt.step(frozen)
        twin.step(grads)
        for f, g in zip(frozen, grads):
            np.testing.assert_array_equal(f, g)
            assert not f.flags.writeable
    assert opt._fast is not None
    for p, c, p0 in zip(params, copies, init):
        np.testing.assert_array_equal(p, c)
        assert np.all(p != p0)  # Adam moves every element by about lr per step


def test_functional_checks():
    rng = np.random.default_rng(6)
    p, g = [rng.standard_normal(3)], [rng.standard_normal(3)]
    m, v = [np.zeros(3)], [np.zeros(3)]
    before = p[0].copy()
    with pytest.raises(ValueError, match="step"):
        F.adam(p, g, m, v, None, 0, lr=0.1)
    with pytest.raises(ValueError, match="exp_avg_sqs"):
        F.adam(p, g, m, [], None, 1, lr=0.1)
    with pytest.raises(ValueError, match=r"exp_avgs\[0\].*shape"):
        F.adam(p, g, [np.zeros(4)], v, None, 1, lr=0.1)
    with pytest.raises(ValueError, match=r"max_exp_avg_sqs"):
        F.adam(p, g, m, v, [], 1, lr=0.1, amsgrad=True)
    with pytest.raises(ValueError, match=r"shares memory"):
        F.adam(p, g, m, m, None, 1, lr=0.1)
    np.testing.assert_array_equal(p[0], before)
    np.testing.assert_array_equal(m[0], 0)
    np.testing.assert_array_equal(v[0], 0)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1, 2.5])
def test_bad_step_count_set_in_state_is_a_value_error(value):
    rng = np.random.default_rng(7)
    opt, params = _stepped(rng)
    before = snapshot(opt)
    with pytest.raises(ValueError, match="step"):
        opt.state[0]["step"] = value
    assert_unchanged(opt, before)
