"""The one table of (optimizer, options) that drives native-vs-reference, torch
conformance, state_dict and thread tests. Every option of every optimizer appears."""
from __future__ import annotations

import numpy as np

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-6)),
    ("Adagrad", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6)),  # 1 - beta1 >= 0.5: lerp's other branch
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.01, maximize=True)),
]


def config_id(cfg):
    name, kw = cfg
    return name + ("-" + "-".join(f"{k}={v}" for k, v in kw.items()) if kw else "")


IDS = [config_id(c) for c in CONFIGS]

# 0-, 1-, 7-, 1023- and >1M-element tensors (and a 0-d one) in one list.
SHAPES = [(0,), (), (1,), (7,), (31, 33), ((1 << 20) + 5,)]
SMALL_SHAPES = [(0,), (), (1,), (7,), (31, 33), (3, 5, 2)]


def make_params(rng, shapes, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def make_grads(rng, params):
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in params]


def all_state(opt):
    """Every state entry of every param, as {(index, name): value}."""
    return {(i, k): v for i in opt.state for k, v in opt.state[i].items()}


def snapshot(opt):
    """Deep copy of params and state, to check that nothing changed."""
    params = [p.copy() for g in opt.param_groups for p in g["params"]]
    state = {k: (np.copy(v) if isinstance(v, np.ndarray) else v) for k, v in all_state(opt).items()}
    return params, state


def assert_unchanged(opt, snap):
    params, state = snapshot(opt)
    for a, b in zip(params, snap[0]):
        np.testing.assert_array_equal(a, b)
    assert state.keys() == snap[1].keys()
    for k in state:
        np.testing.assert_array_equal(state[k], snap[1][k])


def assert_close(actual, desired, rtol, err_msg=""):
    """Elementwise rtol, plus an absolute slack of rtol times the array's largest
    magnitude: rounding differences accumulate along the whole trajectory, so an
    element that passed near zero carries errors of the array's scale, not its own."""
    desired = np.asarray(desired)
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * max(scale, 1e-30),
                               err_msg=err_msg)
