"""Every functional entry point (fusedoptim.functional and its NumPy twin,
fusedoptim.reference.functional) checks everything before it creates or writes
anything: after a call that raises, params, grads and every state list are the same
list objects holding the same entries (None stays None) with the same values."""
import math

import numpy as np
import pytest

from fusedoptim import functional as F
from fusedoptim import reference

MODULES = {"native": F, "reference": reference.functional}

SHAPES = [(4, 3), (5,), (2,)]

# name -> (state lists in call order, step argument or None, good keywords,
#          {hyperparameter: bad values beyond the non-finite ones})
ENTRIES = {
    "sgd": (["momentum_buffers"], None,
            dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
            dict(lr=[-1.0, "0.1"], momentum=[-0.5], dampening=[], weight_decay=[-1.0])),
    "adagrad": (["state_sums"], 3,
                dict(lr=0.1, weight_decay=0.01, lr_decay=0.01, eps=1e-10),
                dict(lr=[-1.0], weight_decay=[-1.0], lr_decay=[-1.0], eps=[-1.0])),
    "rmsprop": (["square_avgs", "grad_avgs", "momentum_buffers"], None,
                dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.01, momentum=0.5,
                     centered=True),
                dict(lr=[-1.0], alpha=[-0.5], eps=[-1.0], weight_decay=[-1.0], momentum=[-1.0])),
    "adam": (["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"], 2,
             dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=True),
             dict(lr=[-1.0], beta1=[1.0, -0.1], beta2=[1.0], eps=[-1.0], weight_decay=[-1.0])),
    "adamw": (["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"], 2,
              dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=True),
              dict(lr=[-1.0], beta1=[1.0], beta2=[-0.1], eps=[-1.0], weight_decay=[-1.0])),
    "rprop": (["prevs", "step_sizes"], None,
              dict(step_size_min=1e-6, step_size_max=50.0, etaminus=0.5, etaplus=1.2),
              dict(step_size_min=[-1.0], step_size_max=[-1.0], etaminus=[1.5, 0.0],
                   etaplus=[0.9])),
    "adamax": (["exp_avgs", "exp_infs"], 2,
               dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01),
               dict(lr=[-1.0], beta1=[1.0], beta2=[-0.1], eps=[-1.0], weight_decay=[-1.0])),
    "nadam": (["exp_avgs", "exp_avg_sqs"], 2,
              dict(mu_product=0.5, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
                   momentum_decay=4e-3, decoupled_weight_decay=True),
              dict(mu_product=[1.5, -0.1], lr=[-1.0], beta1=[1.0], beta2=[1.0], eps=[-1.0],
                   weight_decay=[-1.0], momentum_decay=[-1.0])),
    "radam": (["exp_avgs", "exp_avg_sqs"], 7,
              dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01),
              dict(lr=[-1.0], beta1=[1.0], beta2=[1.0], eps=[-1.0], weight_decay=[-1.0])),
    "adadelta": (["square_avgs", "acc_deltas"], None,
                 dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.01),
                 dict(lr=[-1.0], rho=[1.5, -0.1], eps=[-1.0], weight_decay=[-1.0])),
    "asgd": (["axs"], 3,
             dict(eta=0.01, mu=0.5, lr=0.01, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.01),
             dict(eta=[-1.0], mu=[-1.0], lr=[-1.0], lambd=[-1.0], weight_decay=[-1.0])),
    "lion": (["exp_avgs"], None,
             dict(lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.01),
             dict(lr=[-1.0], beta1=[1.0], beta2=[-0.1], weight_decay=[-1.0])),
    "lamb": (["exp_avgs", "exp_avg_sqs"], 2,
             dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.01),
             dict(lr=[-1.0], beta1=[1.0], beta2=[-0.1], eps=[-1.0], weight_decay=[-1.0])),
    "lars": (["momentum_buffers"], None,
             dict(lr=0.1, momentum=0.9, weight_decay=0.01, trust_coefficient=1e-3, eps=1e-8),
             dict(lr=[-1.0], momentum=[-0.5], weight_decay=[-1.0], trust_coefficient=[-1.0],
                  eps=[-1.0])),
}

NON_FINITE = [math.inf, -math.inf, math.nan]


def _bad_cases():
    for name, (_, _, good, extra) in ENTRIES.items():
        for key in good:
            if isinstance(good[key], bool):
                continue
            for value in NON_FINITE + extra.get(key, []):
                yield name, key, value


BAD = list(_bad_cases())


def _setup(name, rng, none_at=()):
    """Params, grads and state lists of entry ``name``; entries of the state lists at
    ``none_at`` are None."""
    lists, step, good, _ = ENTRIES[name]
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal(s) for s in SHAPES]
    state = {}
    for lst in lists:
        init = (lambda s: np.full(s, 0.01)) if lst == "step_sizes" else \
            (lambda s: np.abs(rng.standard_normal(s)))
        state[lst] = [None if i in none_at else init(s) for i, s in enumerate(SHAPES)]
    return params, grads, state, step, dict(good)


def _call(module, name, params, grads, state, step, kw):
    args = [params, grads] + list(state.values())
    getattr(module, name)(*args, **kw, **({} if step is None else {"step": step}))


def _snapshot(lists):
    """Each list with the objects it holds and copies of their values."""
    return {k: (lst, list(lst), [None if a is None else a.copy() for a in lst])
            for k, lst in lists.items()}


def _assert_unchanged(snap):
    for k, (lst, objects, values) in snap.items():
        assert len(lst) == len(objects), f"{k}: length changed"
        for i, (now, obj, val) in enumerate(zip(lst, objects, values)):
            assert now is obj, f"{k}[{i}]: entry replaced by {type(now).__name__}"
            if val is not None:
                np.testing.assert_array_equal(now, val, err_msg=f"{k}[{i}] changed")


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("name, key, value", BAD,
                         ids=[f"{n}-{k}={v!r}" for n, k, v in BAD])
@pytest.mark.parametrize("none_at", [(), (0, 2)], ids=["buffers", "none-entries"])
def test_bad_hyperparameter_changes_nothing(module, name, key, value, none_at):
    rng = np.random.default_rng(0)
    params, grads, state, step, kw = _setup(name, rng, none_at)
    kw[key] = value
    snap = _snapshot({"params": params, "grads": grads, **state})
    with pytest.raises((ValueError, TypeError), match=key):
        _call(MODULES[module], name, params, grads, state, step, kw)
    _assert_unchanged(snap)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if e[1] is not None])
@pytest.mark.parametrize("step", [0, -1, 1.5, math.nan, True])
def test_bad_step_changes_nothing(module, name, step):
    rng = np.random.default_rng(1)
    params, grads, state, _, kw = _setup(name, rng)
    snap = _snapshot({"params": params, "grads": grads, **state})
    with pytest.raises(ValueError, match="step"):
        _call(MODULES[module], name, params, grads, state, step, kw)
    _assert_unchanged(snap)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("name", [n for n in ENTRIES if n != "sgd"])
def test_none_state_entry_is_refused_and_nothing_changes(module, name):
    """Only SGD creates missing buffers; elsewhere a None entry is an error naming it."""
    rng = np.random.default_rng(2)
    params, grads, state, step, kw = _setup(name, rng)
    first = next(iter(state))
    state[first][1] = None
    snap = _snapshot({"params": params, "grads": grads, **state})
    with pytest.raises(TypeError, match=rf"{first}\[1\]"):
        _call(MODULES[module], name, params, grads, state, step, kw)
    _assert_unchanged(snap)


# ------------------------------------------------------------------ SGD's new buffers
SGD_BAD_CALLS = [
    # (what, how the call differs, error, message)
    ("negative lr", lambda p, g, b: (p, g, b, dict(lr=-1.0)), ValueError, "lr"),
    ("inf momentum", lambda p, g, b: (p, g, b, dict(momentum=math.inf)), ValueError, "momentum"),
    ("nan dampening", lambda p, g, b: (p, g, b, dict(dampening=math.nan)), ValueError,
     "dampening"),
    ("nesterov with dampening", lambda p, g, b: (p, g, b, dict(nesterov=True, dampening=0.5)),
     ValueError, "nesterov"),
    ("too few grads", lambda p, g, b: (p, g[:2], b, {}), ValueError, "grads"),
    ("too few buffers", lambda p, g, b: (p, g, b[:2], {}), ValueError, "momentum_buffers"),
    ("grad of the wrong shape", lambda p, g, b: (p, [g[0], np.ones(4), g[2]], b, {}), ValueError,
     r"grads\[1\]"),
    ("buffer of the wrong shape", lambda p, g, b: (p, g, [b[0], np.ones(4), b[2]], {}),
     ValueError, r"momentum_buffers\[1\]"),
    ("float32 buffer", lambda p, g, b: (p, g, [b[0], b[1].astype(np.float32), b[2]], {}),
     TypeError, r"momentum_buffers\[1\]"),
    ("buffer is a param", lambda p, g, b: (p, g, [b[0], p[1], b[2]], {}), ValueError,
     "shares memory"),
    ("a tuple cannot receive buffers", lambda p, g, b: (p, g, tuple(b), {}), TypeError,
     "momentum_buffers"),
]


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("case", SGD_BAD_CALLS, ids=[c[0] for c in SGD_BAD_CALLS])
def test_sgd_failed_call_creates_no_buffer(module, case):
    """The issue's case: a call that raises left an uninitialised np.empty_like buffer
    in the list, and the next valid call started from it."""
    _, make, exc, match = case
    rng = np.random.default_rng(3)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal(s) for s in SHAPES]
    bufs = [None, rng.standard_normal(SHAPES[1]), None]
    p, g, b, extra = make(params, grads, bufs)
    snap = _snapshot({"params": params, "grads": grads, "bufs": bufs, "b": list(b)})
    kw = {"lr": 0.1, "momentum": 0.9, **extra}
    with pytest.raises(exc, match=match):
        MODULES[module].sgd(p, g, b, **kw)
    _assert_unchanged(snap)
    assert bufs[0] is None and bufs[2] is None


@pytest.mark.parametrize("module", MODULES)
def test_sgd_valid_call_after_a_failed_one_starts_from_the_gradient(module):
    sgd = MODULES[module].sgd
    p, g, bufs = [np.ones(3)], [np.ones(3)], [None]
    with pytest.raises(ValueError, match="lr"):
        sgd(p, g, bufs, lr=-1.0, momentum=0.9)
    assert bufs[0] is None
    sgd(p, g, bufs, lr=0.1, momentum=0.9)
    np.testing.assert_array_equal(bufs[0], g[0])       # the first buffer is the gradient
    np.testing.assert_allclose(p[0], 1.0 - 0.1 * 1.0)  # 0.9, not garbage


# ------------------------------------------------------------------ clipping, both twins
CLIPS = {"native": __import__("fusedoptim").clip, "reference": reference.clip}
CLIP_BAD = [
    ("read-only grad", lambda c, g: c.clip_grad_norm_([g[0], _read_only(g[1])], 0.1),
     ValueError, r"grads\[1\].*read-only"),
    ("non-contiguous grad", lambda c, g: c.clip_grad_value_([g[0], np.ones((3, 4))[:, ::2]], 0.1),
     ValueError, r"grads\[1\].*contiguous"),
    ("int32 grad", lambda c, g: c.clip_grad_norm_([g[0], np.ones(2, np.int32)], 0.1),
     TypeError, r"grads\[1\]"),
    ("negative max_norm", lambda c, g: c.clip_grad_norm_(g, -1.0), ValueError, "max_norm"),
    ("NaN max_norm", lambda c, g: c.clip_grad_norm_(g, math.nan), ValueError, "max_norm"),
    ("zero norm_type", lambda c, g: c.clip_grad_norm_(g, 0.1, norm_type=0), ValueError,
     "norm_type"),
    ("NaN clip_value", lambda c, g: c.clip_grad_value_(g, math.nan), ValueError, "clip_value"),
    ("non-finite norm", lambda c, g: c.clip_grad_norm_(g + [np.array([np.inf])], 0.1,
                                                       error_if_nonfinite=True),
     RuntimeError, "norm"),
]


def _read_only(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("module", CLIPS)
@pytest.mark.parametrize("case", CLIP_BAD, ids=[c[0] for c in CLIP_BAD])
def test_clip_checks_everything_before_writing(module, case):
    _, call, exc, match = case
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(s) * 10 for s in SHAPES]  # norms far above max_norm
    snap = _snapshot({"grads": grads})
    with pytest.raises(exc, match=match):
        call(CLIPS[module], grads)
    _assert_unchanged(snap)


# ------------------------------------------------------------------ DiagonalNewton's groups
def _diag_closure(n_a=3, n_b=2, grad_b=None):
    return lambda: (0.0, [np.ones(n_a), np.ones(n_b) if grad_b is None else grad_b],
                    [np.full(n_a, 2.0), np.full(n_b, 2.0)])


def test_diagonal_newton_checks_every_group_before_updating_any():
    """One group's bad param (made read-only after construction) used to be found only
    after the groups before it were updated."""
    import fusedoptim

    a, b = np.ones(3), np.ones(2)
    opt = fusedoptim.DiagonalNewton([{"params": [a]}, {"params": [b], "lr": 0.5}])
    b.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[1\].*read-only"):
        opt.step(_diag_closure())
    np.testing.assert_array_equal(a, 1.0)
    assert opt.state[0] in ({}, {"func_evals": 0, "n_iter": 0})
    b.flags.writeable = True
    opt.step(_diag_closure())
    np.testing.assert_array_equal(a, 0.5)   # 1 - 1.0 * 1 / 2
    np.testing.assert_array_equal(b, 0.75)  # 1 - 0.5 * 1 / 2


def test_diagonal_newton_grad_aliasing_a_param_of_another_group():
    import fusedoptim

    a, b = np.ones(3), np.ones(2)
    opt = fusedoptim.DiagonalNewton([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match=r"grads\[1\] shares memory with params\[1\]"):
        opt.step(_diag_closure(grad_b=b))
    np.testing.assert_array_equal(a, 1.0)
    np.testing.assert_array_equal(b, 1.0)



@pytest.mark.parametrize("module", ["native", "reference"])
@pytest.mark.parametrize("name", ["adamw", "nadam", "radam", "lion"])
def test_decoupled_decay_that_overflows_changes_nothing(name, module):
    """lr and weight_decay each finite, their product not: 1 - lr * wd would be -inf."""
    rng = np.random.default_rng(5)
    params, grads, state, step, kw = _setup(name, rng)
    kw.update(lr=1e200, weight_decay=1e200)
    if name in ("nadam", "radam"):
        kw["decoupled_weight_decay"] = True
    before = [p.copy() for p in params]
    with pytest.raises(ValueError, match="weight_decay"):
        _call(MODULES[module], name, params, grads, state, step, kw)
    for a, b in zip(params, before):
        np.testing.assert_array_equal(a, b)
