"""Non-finite hyperparameters (inf, -inf, NaN) are rejected with a ValueError naming
the hyperparameter, stricter than torch (which accepts some and produces NaN/inf
params): at construction, when set in param_groups between steps (at the next step,
before anything changes), from a callable lr, from an lr scheduler, and in the
functional layer (tests/test_functional_validation.py)."""
import copy
import math
import re

import numpy as np
import pytest

import fusedoptim
from fusedoptim import lr_scheduler, schedules
from registry import assert_unchanged, snapshot

BAD = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}

# class -> its float hyperparameters; "name[i]" is member i of the tuple "name"
FIRST_ORDER = {
    "SGD": (dict(momentum=0.9), ["lr", "momentum", "dampening", "weight_decay"]),
    "Adagrad": ({}, ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"]),
    "RMSprop": (dict(momentum=0.5, centered=True), ["lr", "alpha", "eps", "weight_decay",
                                                    "momentum"]),
    "Adam": ({}, ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]),
    "AdamW": ({}, ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]),
    "Rprop": ({}, ["lr", "etas[0]", "etas[1]", "step_sizes[0]", "step_sizes[1]"]),
    "Adamax": ({}, ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]),
    "NAdam": ({}, ["lr", "betas[0]", "betas[1]", "eps", "weight_decay", "momentum_decay"]),
    "RAdam": ({}, ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]),
    "Adadelta": ({}, ["lr", "rho", "eps", "weight_decay"]),
    "ASGD": ({}, ["lr", "lambd", "alpha", "t0", "weight_decay"]),
    "Lion": ({}, ["lr", "betas[0]", "betas[1]", "weight_decay"]),
    "LAMB": ({}, ["lr", "betas[0]", "betas[1]", "eps", "weight_decay"]),
    "LARS": (dict(lr=0.1), ["lr", "momentum", "weight_decay", "trust_coefficient", "eps"]),
}
SECOND_ORDER = {
    "Newton": ["lr", "tolerance_grad", "tolerance_change", "damping", "damping_factor", "cg_tol"],
    "DiagonalNewton": ["lr", "min_curvature"],
    "LBFGS": ["lr", "tolerance_grad", "tolerance_change"],
}
DEFAULT_TUPLES = {"betas": (0.9, 0.999), "etas": (0.5, 1.2), "step_sizes": (1e-6, 50.0)}


def _with(group, hp, value):
    """``group`` (a dict of hyperparameters) with ``hp`` set to ``value``."""
    out = dict(group)
    m = re.fullmatch(r"(\w+)\[(\d)\]", hp)
    if m:
        key, i = m.group(1), int(m.group(2))
        members = list(out.get(key, DEFAULT_TUPLES[key]))
        members[i] = value
        out[key] = tuple(members)
    else:
        out[hp] = value
    return out


def _label(hp, prefix=""):
    """The name an error must carry: ``lr``, ``betas[0]``, ``param_groups[1]['lr']``,
    ``param_groups[1]['betas'][0]``."""
    m = re.fullmatch(r"(\w+)(\[\d\])?", hp)
    name = f"{prefix}[{m.group(1)!r}]" if prefix else m.group(1)
    return re.escape(name + (m.group(2) or ""))


def _cases(table):
    return [(cls, hp, bad) for cls, entry in table.items()
            for hp in (entry[1] if isinstance(entry, tuple) else entry) for bad in BAD]


FIRST = _cases(FIRST_ORDER)
SECOND = _cases(SECOND_ORDER)
ALL = FIRST + SECOND


def _cls(name, twin):
    return getattr(fusedoptim.reference if twin else fusedoptim, name)


# ------------------------------------------------------------------ construction
@pytest.mark.parametrize("cls, hp, bad", ALL, ids=[f"{c}-{h}={b}" for c, h, b in ALL])
def test_construction_rejects(cls, hp, bad):
    p = np.arange(3.0)
    extra = FIRST_ORDER[cls][0] if cls in FIRST_ORDER else {}
    with pytest.raises(ValueError, match=_label(hp)):
        _cls(cls, False)([p], **_with(extra, hp, BAD[bad]))
    np.testing.assert_array_equal(p, np.arange(3.0))


@pytest.mark.parametrize("cls, hp, bad", FIRST, ids=[f"{c}-{h}={b}" for c, h, b in FIRST])
def test_reference_twin_construction_rejects(cls, hp, bad):
    with pytest.raises(ValueError, match=_label(hp)):
        _cls(cls, True)([np.ones(3)], **_with(FIRST_ORDER[cls][0], hp, BAD[bad]))


@pytest.mark.parametrize("cls, hp, bad", FIRST, ids=[f"{c}-{h}={b}" for c, h, b in FIRST])
def test_param_group_rejects(cls, hp, bad):
    with pytest.raises(ValueError, match=_label(hp, "param_groups[1]")):
        _cls(cls, False)([{"params": [np.ones(3)]},
                          _with({"params": [np.ones(2)]}, hp, BAD[bad])],
                         **FIRST_ORDER[cls][0])


# ------------------------------------------------- set in param_groups between steps
def _stepped(cls, twin, rng):
    params = [rng.standard_normal((4, 3)), rng.standard_normal(5), rng.standard_normal(2)]
    opt = _cls(cls, twin)([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}],
                          **FIRST_ORDER[cls][0])
    for _ in range(3):  # past the steps that create state: the reusable plan is in place
        opt.step([rng.standard_normal(p.shape) for p in params])
    return opt, params


@pytest.mark.parametrize("twin", [False, True], ids=["native", "reference"])
@pytest.mark.parametrize("cls, hp, bad", FIRST, ids=[f"{c}-{h}={b}" for c, h, b in FIRST])
def test_set_between_steps_raises_at_the_step_and_changes_nothing(cls, hp, bad, twin):
    rng = np.random.default_rng(0)
    opt, params = _stepped(cls, twin, rng)
    opt.param_groups[1].update(_with(opt.param_groups[1], hp, BAD[bad]))
    before = snapshot(opt)
    grads = [rng.standard_normal(p.shape) for p in params]
    with pytest.raises(ValueError, match=_label(hp, "param_groups[1]")):
        opt.step(grads)
    assert_unchanged(opt, before)  # group 0 was fine, and is untouched too


# ------------------------------------------------------------------ callable lr
@pytest.mark.parametrize("twin", [False, True], ids=["native", "reference"])
@pytest.mark.parametrize("cls", FIRST_ORDER)
@pytest.mark.parametrize("bad", BAD)
def test_callable_lr_returning_non_finite_raises_and_changes_nothing(cls, bad, twin):
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    value = BAD[bad]
    opt = _cls(cls, twin)(params, **dict(FIRST_ORDER[cls][0],
                                         lr=lambda t: 0.01 if t < 3 else value))
    for _ in range(3):
        opt.step([rng.standard_normal(p.shape) for p in params])
    before = snapshot(opt)
    with pytest.raises(ValueError, match=re.escape("param_groups[0]['lr']") + ".*step 3"):
        opt.step([rng.standard_normal(p.shape) for p in params])
    assert_unchanged(opt, before)
    with pytest.raises(ValueError, match="lr"):  # at construction, lr(0) is checked
        _cls(cls, twin)(params, lr=lambda t: value)


# ------------------------------------------------------------------ schedulers
SCHEDULERS = {
    "LambdaLR": lambda opt, v: lr_scheduler.LambdaLR(opt, lambda e: 1.0 if e < 2 else v),
    "MultiplicativeLR": lambda opt, v: lr_scheduler.MultiplicativeLR(
        opt, lambda e: 1.0 if e < 2 else v),
}


@pytest.mark.parametrize("name", SCHEDULERS)
@pytest.mark.parametrize("bad", BAD)
def test_scheduler_setting_non_finite_lr_raises_at_the_step(name, bad):
    """A scheduler writes what its function gives; the optimizer's step refuses it."""
    rng = np.random.default_rng(2)
    params = [rng.standard_normal(6), rng.standard_normal((2, 2))]
    opt = fusedoptim.SGD(params, lr=0.1, momentum=0.9)
    sched = SCHEDULERS[name](opt, BAD[bad])
    for _ in range(2):
        opt.step([rng.standard_normal(p.shape) for p in params])
        sched.step()
    lr = opt.param_groups[0]["lr"]
    assert not math.isfinite(lr), lr
    before = snapshot(opt)
    with pytest.raises(ValueError, match=re.escape("param_groups[0]['lr']")):
        opt.step([rng.standard_normal(p.shape) for p in params])
    assert_unchanged(opt, before)


def test_schedule_overflowing_to_inf_raises_at_the_step():
    """A schedule that grows past the float range gives inf: refused at that step."""
    rng = np.random.default_rng(3)
    sched = schedules.exponential_decay(init_value=1e300, transition_steps=1, decay_rate=1e5)
    assert math.isfinite(sched(1)) and math.isinf(sched(2))
    params = [rng.standard_normal(5)]
    opt = fusedoptim.SGD(params, lr=sched)
    for _ in range(2):
        opt.step([np.zeros(5)])  # zero gradients: a huge lr leaves the params finite
    before = snapshot(opt)
    with pytest.raises(ValueError, match=re.escape("param_groups[0]['lr']") + ".*step 2"):
        opt.step([np.zeros(5)])
    assert_unchanged(opt, before)


# ------------------------------------------------------------------ second order
def _closure(name, params, calls):
    A = np.diag([3.0, 2.0, 1.0])

    def closure():
        calls.append(1)
        x = params[0]
        g = [A @ x - 1.0]
        if name == "Newton":
            return 0.5 * x @ A @ x - x.sum(), g, A
        if name == "DiagonalNewton":
            return 0.5 * x @ A @ x - x.sum(), g, [np.diag(A).copy()]
        return 0.5 * x @ A @ x - x.sum(), g
    return closure


@pytest.mark.parametrize("cls, hp, bad", SECOND, ids=[f"{c}-{h}={b}" for c, h, b in SECOND])
def test_second_order_set_between_steps_raises_before_the_closure(cls, hp, bad):
    params = [np.array([1.0, -2.0, 0.5])]
    kw = dict(max_iter=2) if cls != "DiagonalNewton" else {}
    opt = getattr(fusedoptim, cls)(params, **kw)
    calls = []
    opt.step(_closure(cls, params, calls))
    opt.param_groups[0][hp] = BAD[bad]
    x, state, n = params[0].copy(), copy.deepcopy(dict(opt.state[0])), len(calls)
    with pytest.raises(ValueError, match=_label(hp, "param_groups[0]")):
        opt.step(_closure(cls, params, calls))
    assert len(calls) == n  # the closure was not called
    np.testing.assert_array_equal(params[0], x)
    assert opt.state[0].keys() == state.keys()
    assert opt.state[0]["n_iter"] == state["n_iter"]
    assert opt.state[0]["func_evals"] == state["func_evals"]


# ------------------------------------------------------------------ edge values
def test_huge_int_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="weight_decay"):
        fusedoptim.SGD([np.ones(2)], weight_decay=10 ** 400)


def test_finite_hyperparameters_giving_a_non_finite_step_size_are_refused():
    """Adam's lr / (1 - beta1^t) overflows for an lr near the float maximum."""
    p = [np.ones(3)]
    opt = fusedoptim.Adam(p, lr=1e308, betas=(0.5, 0.999))
    with pytest.raises(ValueError, match="lr"):
        opt.step([np.ones(3)])
    np.testing.assert_array_equal(p[0], 1.0)
    assert len(opt.state) == 0


@pytest.mark.parametrize("make, step, expected", [
    # past the float range the power is inf (IEEE arithmetic, as optax's), not an OverflowError
    (lambda: schedules.exponential_decay(1.0, 1, 2.0, end_value=10.0), 5000, 10.0),
    (lambda: schedules.exponential_decay(1.0, 1, 2.0), 5000, math.inf),
    (lambda: schedules.exponential_decay(1.0, 1, 0.5), 5000, 0.0),
    (lambda: schedules.step_decay_schedule(1.0, 2.0, 1), 5000, math.inf),
], ids=["ceiling", "no-ceiling", "decay-underflows", "step-decay"])
def test_schedule_power_overflow_gives_inf_not_an_exception(make, step, expected):
    assert make()(step) == expected


@pytest.mark.parametrize("bad", BAD)
def test_cyclic_lr_refuses_non_finite_gamma(bad):
    """exp_range scales by gamma**t: an infinite gamma gives an infinite (or NaN) lr."""
    opt = fusedoptim.SGD([np.ones(3)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="gamma"):
        lr_scheduler.CyclicLR(opt, 0.1, 1.0, mode="exp_range", gamma=BAD[bad])
    assert opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("key", ["lr", "min_curvature"])
@pytest.mark.parametrize("bad", BAD)
def test_diag_newton_refuses_non_finite(key, bad):
    """fusedoptim.vector.diag_newton_, DiagonalNewton's fused update: an infinite lr
    gives inf (or NaN where g = 0), an infinite floor a zero step that hides the mistake."""
    from fusedoptim import vector

    p, g, h = [np.array([1.0, 2.0, 0.5])], [np.array([0.5, 0.0, -1.0])], [np.ones(3)]
    with pytest.raises(ValueError, match=key):
        vector.diag_newton_(p, g, h, **{key: BAD[bad]})
    np.testing.assert_array_equal(p[0], [1.0, 2.0, 0.5])
