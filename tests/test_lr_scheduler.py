"""fusedoptim.lr_scheduler against torch.optim.lr_scheduler.

Every torch-named scheduler runs 1,000 steps on a fusedoptim optimizer and, side by
side, on a torch optimizer with the same param groups; each step compares
get_last_lr(), every group's lr and momentum (or betas) and the scheduler keys
torch writes into the groups. Tolerance: none, the values must be the same floats
(same operations in the same order). Also: state_dict resume after 400 steps,
torch's state_dict loaded into ours, the deprecated step(epoch) closed forms,
ReduceLROnPlateau on a fixed pseudo-random metric sequence, and bad input.
"""
import copy
import math
import warnings

import numpy as np
import pytest

import fusedoptim
from fusedoptim import lr_scheduler as FL

torch = pytest.importorskip("torch")
TL = torch.optim.lr_scheduler

STEPS, RESUME_AT = 1000, 400
GROUP_KEYS = ("lr", "momentum", "betas", "initial_lr", "max_lr", "min_lr", "max_momentum",
              "base_momentum")


def _groups(kind):
    """(optimizer class name, constructor kwargs, per-group overrides) of a config."""
    return {
        "sgd": ("SGD", dict(lr=0.1, momentum=0.9), [{}, {"lr": 0.05}]),
        "sgd1": ("SGD", dict(lr=0.1), [{}]),
        "adam": ("Adam", dict(lr=0.01), [{}, {"lr": 0.003, "betas": (0.8, 0.99)}]),
        "rmsprop": ("RMSprop", dict(lr=0.01, momentum=0.5), [{}, {"lr": 0.02}]),
    }[kind]


def make_pair(kind, seed=0):
    """A fusedoptim and a torch optimizer with the same groups and hyperparameters."""
    name, kw, overrides = _groups(kind)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(3) for _ in overrides]
    ours = getattr(fusedoptim, name)([dict(o, params=[a]) for o, a in zip(overrides, arrays)], **kw)
    tensors = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = getattr(torch.optim, name)([dict(o, params=[t]) for o, t in zip(overrides, tensors)],
                                        **kw)
    return ours, theirs, arrays


def _lam1(e):
    return 0.95 ** e


def _lam2(e):
    return 1.0 / (1.0 + e) + 0.1 * (e % 7)


class _Scale:
    """A callable object: its __dict__ goes into LambdaLR's state_dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, e):
        return self.rate ** (e % 50)


# name, optimizer kind, factory(module, optimizer) -> scheduler
CONFIGS = [
    ("LambdaLR", "sgd", lambda m, o: m.LambdaLR(o, lr_lambda=[_lam1, _lam2])),
    ("LambdaLR-object", "sgd1", lambda m, o: m.LambdaLR(o, _Scale(0.97))),
    ("MultiplicativeLR", "sgd", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.995)),
    ("StepLR", "sgd", lambda m, o: m.StepLR(o, step_size=30, gamma=0.5)),
    ("StepLR-default", "adam", lambda m, o: m.StepLR(o, 200)),
    ("MultiStepLR", "sgd", lambda m, o: m.MultiStepLR(o, milestones=[100, 250, 600], gamma=0.3)),
    ("ConstantLR", "sgd", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=50)),
    ("ConstantLR-default", "adam", lambda m, o: m.ConstantLR(o)),
    ("LinearLR", "sgd", lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9,
                                                total_iters=300)),
    ("LinearLR-default", "rmsprop", lambda m, o: m.LinearLR(o)),
    ("ExponentialLR", "sgd", lambda m, o: m.ExponentialLR(o, gamma=0.997)),
    ("PolynomialLR", "sgd", lambda m, o: m.PolynomialLR(o, total_iters=700, power=2.0)),
    ("PolynomialLR-default", "adam", lambda m, o: m.PolynomialLR(o)),
    ("CosineAnnealingLR", "sgd", lambda m, o: m.CosineAnnealingLR(o, T_max=150, eta_min=0.001)),
    ("CosineAnnealingLR-default", "adam", lambda m, o: m.CosineAnnealingLR(o, 1000)),
    ("CosineAnnealingWarmRestarts", "sgd",
     lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2, eta_min=1e-4)),
    ("CosineAnnealingWarmRestarts-default", "adam",
     lambda m, o: m.CosineAnnealingWarmRestarts(o, 64)),
    ("CyclicLR-triangular2-sgd", "sgd",
     lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=40,
                             step_size_down=60, mode="triangular2")),
    ("CyclicLR-exp_range-adam", "adam",
     lambda m, o: m.CyclicLR(o, base_lr=[0.001, 0.002], max_lr=0.01, step_size_up=25,
                             mode="exp_range", gamma=0.999, base_momentum=0.85,
                             max_momentum=0.95)),
    ("CyclicLR-triangular-rmsprop", "rmsprop",
     lambda m, o: m.CyclicLR(o, 0.001, 0.01, step_size_up=100)),
    ("CyclicLR-scale_fn-nomomentum", "sgd",
     lambda m, o: m.CyclicLR(o, 0.001, 0.01, step_size_up=30, scale_fn=lambda x: 0.5 ** x,
                             scale_mode="iterations", cycle_momentum=False)),
    ("OneCycleLR-sgd", "sgd", lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.3], total_steps=STEPS)),
    ("OneCycleLR-three_phase-linear-adam", "adam",
     lambda m, o: m.OneCycleLR(o, max_lr=0.01, epochs=10, steps_per_epoch=100, pct_start=0.25,
                               anneal_strategy="linear", three_phase=True)),
    ("OneCycleLR-rmsprop", "rmsprop",
     lambda m, o: m.OneCycleLR(o, 0.05, total_steps=STEPS + 7, pct_start=0.4, div_factor=10.0,
                               final_div_factor=100.0, base_momentum=0.5, max_momentum=0.8)),
    ("OneCycleLR-nomomentum", "sgd1",
     lambda m, o: m.OneCycleLR(o, 0.05, total_steps=STEPS, cycle_momentum=False)),
    ("SequentialLR", "sgd",
     lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=100),
                                     m.ExponentialLR(o, gamma=0.995)], milestones=[100])),
    ("SequentialLR-three", "adam",
     lambda m, o: m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=20),
                                     m.CosineAnnealingLR(o, T_max=300),
                                     m.StepLR(o, step_size=50, gamma=0.7)],
                                 milestones=[50, 400])),
    ("SequentialLR-warm-restarts", "sgd",
     lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.2, total_iters=30),
                                     m.CosineAnnealingWarmRestarts(o, T_0=40)],
                                 milestones=[30])),
    ("ChainedScheduler", "sgd",
     lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=80),
                                      m.ExponentialLR(o, gamma=0.998)])),
    ("ChainedScheduler-optimizer", "adam",
     lambda m, o: m.ChainedScheduler([m.MultiStepLR(o, [10, 300]),
                                      m.CosineAnnealingLR(o, T_max=77, eta_min=1e-5)],
                                     optimizer=o)),
]
IDS = [c[0] for c in CONFIGS]


def metrics(n, seed=7):
    """A fixed pseudo-random, slowly improving metric sequence with plateaus."""
    rng = np.random.default_rng(seed)
    return list(np.maximum.accumulate(rng.standard_normal(n)) * -0.01
                + 1.0 / (1.0 + np.arange(n) / 300.0) + 0.02 * rng.standard_normal(n))


PLATEAU = [
    ("ReduceLROnPlateau-default", "sgd", lambda m, o: m.ReduceLROnPlateau(o)),
    ("ReduceLROnPlateau-max-abs", "adam",
     lambda m, o: m.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=3, threshold=0.01,
                                      threshold_mode="abs", cooldown=2, min_lr=[1e-4, 1e-3])),
    ("ReduceLROnPlateau-min-rel", "sgd",
     lambda m, o: m.ReduceLROnPlateau(o, factor=0.7, patience=5, threshold=1e-3, cooldown=1,
                                      min_lr=1e-3, eps=1e-6)),
]


def group_view(opt):
    return [{k: (tuple(float(x) for x in g[k]) if k == "betas" else float(g[k]))
             for k in GROUP_KEYS if k in g} for g in opt.param_groups]


def assert_same_groups(ours, theirs, where):
    a, b = group_view(ours), group_view(theirs)
    for ga, gb in zip(a, b):
        assert ga == {k: gb[k] for k in ga}, where
        assert set(ga) == set(gb), where


def step_both(ours, theirs, sched_o, sched_t, grads, metric=None):
    ours.step(grads)
    theirs.step()
    if metric is None:
        sched_o.step()
        sched_t.step()
    else:
        sched_o.step(metric)
        sched_t.step(metric)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _grad_stream(seed, n_groups):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(3) for _ in range(n_groups)] for _ in range(STEPS)]


@pytest.mark.parametrize("cfg", CONFIGS + PLATEAU, ids=IDS + [c[0] for c in PLATEAU])
def test_matches_torch_over_1000_steps(cfg):
    name, kind, factory = cfg
    ours, theirs, _ = make_pair(kind)
    so, st = factory(FL, ours), factory(TL, theirs)
    assert so.get_last_lr() == st.get_last_lr()
    assert_same_groups(ours, theirs, "construction")
    plateau = name.startswith("ReduceLROnPlateau")
    ms = metrics(STEPS) if plateau else [None] * STEPS
    grads = _grad_stream(1, len(ours.param_groups))
    for t in range(STEPS):
        step_both(ours, theirs, so, st, grads[t], ms[t])
        assert so.get_last_lr() == st.get_last_lr(), f"step {t + 1}"
        assert all(type(v) is float for v in so.get_last_lr())
        assert_same_groups(ours, theirs, f"step {t + 1}")
    if plateau:  # the metric sequence must make it cut the lr
        assert ours.param_groups[0]["lr"] < _groups(kind)[1]["lr"]


@pytest.mark.parametrize("cfg", CONFIGS + PLATEAU, ids=IDS + [c[0] for c in PLATEAU])
def test_state_dict_like_torch(cfg):
    """After 400 steps our state_dict equals torch's, key for key and value for value."""
    name, kind, factory = cfg
    ours, theirs, _ = make_pair(kind)
    so, st = factory(FL, ours), factory(TL, theirs)
    plateau = name.startswith("ReduceLROnPlateau")
    ms = metrics(RESUME_AT) if plateau else [None] * RESUME_AT
    grads = _grad_stream(2, len(ours.param_groups))
    for t in range(RESUME_AT):
        step_both(ours, theirs, so, st, grads[t], ms[t])
    assert so.state_dict() == st.state_dict()


@pytest.mark.parametrize("cfg", CONFIGS + PLATEAU, ids=IDS + [c[0] for c in PLATEAU])
def test_state_dict_resume(cfg):
    """400 steps, save both state_dicts, fresh objects load them and go on: the lrs and
    the params equal those of the uninterrupted run, bit for bit."""
    name, kind, factory = cfg
    plateau = name.startswith("ReduceLROnPlateau")
    ms = metrics(STEPS, seed=11) if plateau else [None] * STEPS
    n_groups = len(_groups(kind)[2])
    grads = _grad_stream(3, n_groups)

    def advance(opt, sched, t):
        opt.step(grads[t])
        sched.step() if ms[t] is None else sched.step(ms[t])
        return sched.get_last_lr(), group_view(opt)

    opt, _, params = make_pair(kind, seed=5)
    sched = factory(FL, opt)
    full = [advance(opt, sched, t) for t in range(STEPS)]
    final_params = [p.copy() for p in params]

    opt, _, params = make_pair(kind, seed=5)
    sched = factory(FL, opt)
    for t in range(RESUME_AT):
        advance(opt, sched, t)
    saved_opt, saved_sched = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    saved_params = [p.copy() for p in params]
    del opt, sched

    opt2, _, params2 = make_pair(kind, seed=99)   # other values: all must come from the state
    for p, q in zip(params2, saved_params):
        p[...] = q
    sched2 = factory(FL, opt2)                    # torch's order: scheduler, then load both
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    resumed = [advance(opt2, sched2, t) for t in range(RESUME_AT, STEPS)]
    assert resumed == full[RESUME_AT:]
    for p, q in zip(params2, final_params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if "Lambda" not in c[0]
                                 and "scale_fn" not in c[0]], ids=lambda c: c[0])
def test_load_torch_state_dict(cfg):
    """torch's scheduler state_dict, loaded into ours, continues as torch does."""
    name, kind, factory = cfg
    ours, theirs, _ = make_pair(kind)
    so, st = factory(FL, ours), factory(TL, theirs)
    grads = _grad_stream(4, len(ours.param_groups))
    for t in range(RESUME_AT):
        ours.step(grads[t])
        theirs.step()
        st.step()
    # ours never stepped its scheduler: give it torch's lrs and state
    for g, h in zip(ours.param_groups, theirs.param_groups):
        for k in GROUP_KEYS:
            if k in h:
                g[k] = tuple(h[k]) if k == "betas" else h[k]
    so.load_state_dict(st.state_dict())
    for t in range(RESUME_AT, STEPS):
        step_both(ours, theirs, so, st, grads[t])
        assert so.get_last_lr() == st.get_last_lr(), f"step {t + 1}"
        assert_same_groups(ours, theirs, f"step {t + 1}")


@pytest.mark.parametrize("make", [
    lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    lambda m, o: m.MultiStepLR(o, [3, 9, 20], gamma=0.5),
    lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=6),
    lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=12),
    lambda m, o: m.ExponentialLR(o, gamma=0.9),
    lambda m, o: m.PolynomialLR(o, total_iters=15, power=1.5),
    lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2),
], ids=["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR",
        "CosineAnnealingLR", "CosineAnnealingWarmRestarts"])
def test_step_with_epoch_closed_form(make):
    """The deprecated step(epoch): closed forms at jumps back and forth, fractional epochs
    for the warm restarts."""
    ours, theirs, _ = make_pair("sgd")
    so, st = make(FL, ours), make(TL, theirs)
    epochs = [3, 4, 10, 2, 25, 0, 17, 40, 41]
    if isinstance(so, FL.CosineAnnealingWarmRestarts):
        epochs += [0.5, 5.25, 13.75, 100.1]
    for e in epochs:
        so.step(e)
        st.step(e)
        assert so.get_last_lr() == st.get_last_lr(), f"epoch {e}"
        so.step()
        st.step()
        assert so.get_last_lr() == st.get_last_lr(), f"after epoch {e}"


def test_get_lr_outside_step_warns():
    ours, _, _ = make_pair("sgd")
    sched = FL.StepLR(ours, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.get_lr()
    assert any("get_last_lr" in str(w.message) for w in caught)


def test_initial_lr_and_last_epoch_resume():
    """last_epoch >= 0 needs 'initial_lr' in the groups (torch's KeyError); with it, the
    schedule picks up where it was."""
    ours, _, _ = make_pair("sgd1")
    with pytest.raises(KeyError, match="initial_lr"):
        FL.StepLR(ours, step_size=3, last_epoch=5)
    sched = FL.StepLR(ours, step_size=3, gamma=0.5)
    assert ours.param_groups[0]["initial_lr"] == 0.1
    assert sched.base_lrs == [0.1]
    for _ in range(7):
        ours.step([np.ones(3)])
        sched.step()
    assert sched.get_last_lr() == [0.1 * 0.5 * 0.5]
    assert sched.last_epoch == 7 and sched._step_count == 8


def test_cycle_momentum_writes_betas_keeping_beta2():
    ours, _, _ = make_pair("adam")
    FL.OneCycleLR(ours, max_lr=0.01, total_steps=10)
    assert ours.param_groups[0]["betas"] == (0.95, 0.999)
    assert ours.param_groups[1]["betas"] == (0.95, 0.99)


# --------------------------------------------------------------------- bad input
def _sgd():
    return fusedoptim.SGD([np.zeros(3)], lr=0.1, momentum=0.9)


BAD = [
    # not a fusedoptim optimizer
    (lambda o: FL.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), 3),
     TypeError, "optimizer"),
    (lambda o: FL.ExponentialLR(object(), 0.9), TypeError, "optimizer"),
    (lambda o: FL.ReduceLROnPlateau([np.zeros(3)]), TypeError, "optimizer"),
    (lambda o: FL.LambdaLR("sgd", lambda e: 1.0), TypeError, "optimizer"),
    (lambda o: FL.OneCycleLR(None, 0.1, total_steps=10), TypeError, "optimizer"),
    (lambda o: FL.CyclicLR({}, 0.01, 0.1), TypeError, "optimizer"),
    (lambda o: FL.SequentialLR(object(), [FL.ExponentialLR(o, 0.9)], []), TypeError, "optimizer"),
    # a callable lr: the scheduler has nowhere to write
    (lambda o: FL.StepLR(fusedoptim.SGD([np.zeros(3)], lr=lambda t: 0.1), 3), TypeError,
     "callable"),
    # periods
    (lambda o: FL.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: FL.StepLR(o, step_size=-3), ValueError, "step_size"),
    (lambda o: FL.StepLR(o, step_size=2.5), TypeError, "step_size"),
    (lambda o: FL.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: FL.CosineAnnealingLR(o, T_max=-10), ValueError, "T_max"),
    (lambda o: FL.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: FL.CosineAnnealingWarmRestarts(o, T_0=-1), ValueError, "T_0"),
    (lambda o: FL.CosineAnnealingWarmRestarts(o, T_0=10.0), ValueError, "T_0"),
    (lambda o: FL.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=0), ValueError, "T_mult"),
    (lambda o: FL.CyclicLR(o, 0.01, 0.1, step_size_up=0), ValueError, "step_size_up"),
    (lambda o: FL.CyclicLR(o, 0.01, 0.1, step_size_down=-5), ValueError, "step_size_down"),
    (lambda o: FL.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: FL.LinearLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: FL.ConstantLR(o, total_iters=-1), ValueError, "total_iters"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=0), ValueError, "total_steps"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10.0), ValueError, "total_steps"),
    (lambda o: FL.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=10), ValueError, "epochs"),
    (lambda o: FL.OneCycleLR(o, 0.1, epochs=3, steps_per_epoch=-1), ValueError, "steps_per_epoch"),
    (lambda o: FL.OneCycleLR(o, 0.1), ValueError, "total_steps"),
    # milestones
    (lambda o: FL.MultiStepLR(o, milestones=[30, 10]), ValueError, "milestones"),
    (lambda o: FL.MultiStepLR(o, milestones=[10, 10, 20]), ValueError, "milestones"),
    (lambda o: FL.MultiStepLR(o, milestones=[-1, 10]), ValueError, "milestones"),
    (lambda o: FL.MultiStepLR(o, milestones=[1.5]), TypeError, "milestones"),
    (lambda o: FL.SequentialLR(o, [FL.ConstantLR(o), FL.ExponentialLR(o, 0.9),
                                   FL.StepLR(o, 3)], milestones=[20, 10]), ValueError,
     "milestones"),
    (lambda o: FL.SequentialLR(o, [FL.ConstantLR(o), FL.ExponentialLR(o, 0.9)],
                               milestones=[5, 6]), ValueError, "milestones"),
    # pct_start
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, pct_start=0.0), ValueError, "pct_start"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.0), ValueError, "pct_start"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, pct_start=-0.2), ValueError, "pct_start"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, pct_start=math.nan), ValueError, "pct_start"),
    # negative or NaN rates and factors
    (lambda o: FL.CyclicLR(o, base_lr=-0.01, max_lr=0.1), ValueError, "base_lr"),
    (lambda o: FL.CyclicLR(o, base_lr=0.01, max_lr=math.nan), ValueError, "max_lr"),
    (lambda o: FL.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2]), ValueError, "max_lr"),
    (lambda o: FL.OneCycleLR(o, max_lr=-0.1, total_steps=10), ValueError, "max_lr"),
    (lambda o: FL.OneCycleLR(o, max_lr=math.nan, total_steps=10), ValueError, "max_lr"),
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, div_factor=0), ValueError, "div_factor"),
    (lambda o: FL.CosineAnnealingLR(o, T_max=10, eta_min=-1e-3), ValueError, "eta_min"),
    (lambda o: FL.CosineAnnealingWarmRestarts(o, 10, eta_min=math.nan), ValueError, "eta_min"),
    (lambda o: FL.CosineAnnealingWarmRestarts(o, 10, eta_min="0"), ValueError, "eta_min"),
    (lambda o: FL.ExponentialLR(o, gamma=-0.5), ValueError, "gamma"),
    (lambda o: FL.ExponentialLR(o, gamma=math.nan), ValueError, "gamma"),
    (lambda o: FL.StepLR(o, 3, gamma=-0.1), ValueError, "gamma"),
    (lambda o: FL.MultiStepLR(o, [3], gamma=math.nan), ValueError, "gamma"),
    (lambda o: FL.ExponentialLR(o, gamma="0.9"), TypeError, "gamma"),
    (lambda o: FL.ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: FL.ConstantLR(o, factor=math.nan), ValueError, "factor"),
    (lambda o: FL.ConstantLR(o, factor=0.0), ValueError, "factor"),
    (lambda o: FL.LinearLR(o, start_factor=0.0), ValueError, "factor"),
    (lambda o: FL.LinearLR(o, end_factor=1.5), ValueError, "factor"),
    (lambda o: FL.PolynomialLR(o, power=-1.0), ValueError, "power"),
    (lambda o: FL.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor"),
    (lambda o: FL.ReduceLROnPlateau(o, factor=-0.5), ValueError, "factor"),
    (lambda o: FL.ReduceLROnPlateau(o, min_lr=-1.0), ValueError, "min_lr"),
    (lambda o: FL.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]), ValueError, "min_lr"),
    (lambda o: FL.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: FL.ReduceLROnPlateau(o, cooldown=-1), ValueError, "cooldown"),
    (lambda o: FL.ReduceLROnPlateau(o, eps=math.nan), ValueError, "eps"),
    (lambda o: FL.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode"),
    (lambda o: FL.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold"),
    # modes, momentum, callables
    (lambda o: FL.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: FL.CyclicLR(o, 0.01, 0.1, mode="square"), ValueError, "mode"),
    (lambda o: FL.CyclicLR(fusedoptim.Adagrad([np.zeros(3)]), 0.01, 0.1), ValueError, "momentum"),
    (lambda o: FL.OneCycleLR(fusedoptim.Rprop([np.zeros(3)]), 0.1, total_steps=5), ValueError,
     "momentum"),
    (lambda o: FL.CyclicLR(o, 0.01, 0.1, base_momentum=-0.1), ValueError, "base_momentum"),
    (lambda o: FL.LambdaLR(o, lr_lambda=[lambda e: 1.0, lambda e: 1.0]), ValueError, "lr_lambdas"),
    (lambda o: FL.LambdaLR(o, lr_lambda=0.5), TypeError, "lr_lambda"),
    (lambda o: FL.MultiplicativeLR(o, lr_lambda=0.5), TypeError, "lr_lambda"),
    # composites
    (lambda o: FL.SequentialLR(o, [], milestones=[]), ValueError, "at least one"),
    (lambda o: FL.ChainedScheduler([]), ValueError, "at least one"),
    (lambda o: FL.SequentialLR(o, [FL.ReduceLROnPlateau(o)], milestones=[]), ValueError,
     "ReduceLROnPlateau"),
    (lambda o: FL.ChainedScheduler([FL.ExponentialLR(o, 0.9), FL.ExponentialLR(_sgd(), 0.9)]),
     ValueError, "same optimizer"),
    (lambda o: FL.ChainedScheduler([object()]), TypeError, "optimizer"),
]


@pytest.mark.parametrize("case", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input(case):
    make, exc, match = case
    opt = _sgd()
    before = group_view(opt)
    with pytest.raises(exc, match=match):
        make(opt)
    if "initial_lr" not in opt.param_groups[0]:
        assert group_view(opt) == before  # nothing written when construction fails


def test_onecycle_past_total_steps_raises_like_torch():
    opt = _sgd()
    sched = FL.OneCycleLR(opt, 0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


@pytest.mark.parametrize("name", FL.__all__)
def test_signatures_like_torch(name):
    """Constructor arguments (names, order, defaults) and the methods' arguments."""
    import inspect

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    ours, theirs = getattr(FL, name), getattr(TL, name)
    assert params(ours) == params(theirs)
    for method in ("step", "get_last_lr", "state_dict", "load_state_dict"):
        assert params(getattr(ours, method)) == params(getattr(theirs, method)), method


# ------------------------------------------- every optimizer under a scheduler, vs torch
NEW = [("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01, weight_decay=0.01)),
       ("RAdam", dict(lr=0.01)), ("Adadelta", dict(lr=0.5)), ("ASGD", dict(lr=0.05, t0=20))]


@pytest.mark.parametrize("name,kw", NEW, ids=[n for n, _ in NEW])
@pytest.mark.parametrize("sched", ["OneCycleLR", "StepLR"])
def test_every_optimizer_follows_a_scheduler_like_torch(name, kw, sched):
    """300 steps of each optimizer under OneCycleLR (it cycles betas[0] where the optimizer
    has betas) and StepLR, side by side with torch: same lrs and betas each step; params
    and state to 1e-11 (FMA contraction within an element is the only difference)."""
    from registry import assert_close

    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(5), rng.standard_normal((2, 3))]
    ours = getattr(fusedoptim, name)([a.copy() for a in arrays], **kw)
    tensors = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = getattr(torch.optim, name)(tensors, **kw)
    has_betas = "betas" in ours.defaults
    if sched == "OneCycleLR":
        make = lambda mod, o: mod.OneCycleLR(o, max_lr=kw["lr"] * 3, total_steps=300,  # noqa: E731
                                             cycle_momentum=has_betas)
    else:
        make = lambda mod, o: mod.StepLR(o, step_size=40, gamma=0.5)  # noqa: E731
    so, st = make(FL, ours), make(TL, theirs)
    params = ours.param_groups[0]["params"]
    for t in range(300):
        grads = [rng.standard_normal(a.shape) for a in arrays]
        for tp, g in zip(tensors, grads):
            tp.grad = torch.tensor(g)
        theirs.step()
        ours.step(grads)
        st.step()
        so.step()
        assert so.get_last_lr() == st.get_last_lr(), t
        if has_betas:
            assert tuple(ours.param_groups[0]["betas"]) == tuple(theirs.param_groups[0]["betas"])
    for i, (p, tp) in enumerate(zip(params, tensors)):
        assert_close(p, tp.detach().numpy(), 1e-11, err_msg=f"param {i}")
        for key, value in theirs.state[tp].items():
            if key != "step":
                assert_close(ours.state[i][key], value.numpy(), 1e-11, err_msg=key)


@pytest.mark.parametrize("name", ["Adadelta", "ASGD"])
def test_cycle_momentum_needs_a_momentum_like_torch(name):
    ours = getattr(fusedoptim, name)([np.zeros(3)])
    theirs = getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="momentum"):
        TL.OneCycleLR(theirs, max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="momentum"):
        FL.OneCycleLR(ours, max_lr=0.1, total_steps=10)


def test_lion_cycles_beta1():
    """Lion (not in torch) under OneCycleLR: betas[0] follows the cycle, and the steps
    equal the reference twin's under the same schedule (float64; 1e-15 for FMA rounding)."""
    rng = np.random.default_rng(8)
    a = rng.standard_normal(50)
    ours, ref = fusedoptim.Lion([a.copy()], lr=1e-3), fusedoptim.reference.Lion([a.copy()], lr=1e-3)
    so = FL.OneCycleLR(ours, max_lr=3e-3, total_steps=100)
    sr = FL.OneCycleLR(ref, max_lr=3e-3, total_steps=100)
    seen = set()
    for _ in range(100):
        g = [rng.standard_normal(50)]
        ours.step(g)
        ref.step(g)
        so.step()
        sr.step()
        seen.add(ours.param_groups[0]["betas"][0])
    assert len(seen) > 50 and min(seen) >= 0.85 - 1e-12 and max(seen) <= 0.95 + 1e-12
    np.testing.assert_allclose(ours.param_groups[0]["params"][0], ref.param_groups[0]["params"][0],
                               rtol=0, atol=1e-15)
