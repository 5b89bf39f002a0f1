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
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6)),  # lerp's other branch
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("NAdam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6, momentum_decay=0.05)),
    ("RAdam", dict()),  # rho_t <= 5 for the first 5 steps, rectified after
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.5))),  # rho_inf = 3: never rectified
    ("RAdam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6, weight_decay=0.1,
                   decoupled_weight_decay=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.1, maximize=True)),
    ("ASGD", dict()),  # t0 = 1e6: mu stays 1, the average is the param
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=10, weight_decay=0.1)),  # averaging after 10
    ("ASGD", dict(lr=0.01, t0=3, maximize=True)),
    ("Lion", dict()),
    ("Lion", dict(lr=1e-3, weight_decay=0.1)),
    ("Lion", dict(lr=1e-3, betas=(0.5, 0.9), maximize=True)),
    ("LAMB", dict()),
    ("LAMB", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("LAMB", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3)),
    ("LARS", dict(lr=0.1)),
    ("LARS", dict(lr=0.5, momentum=0.8, weight_decay=0.01, nesterov=True)),
    ("LARS", dict(lr=0.2, momentum=0.0, trust_coefficient=0.02, eps=1e-3, weight_decay=0.1,
                  maximize=True)),
    ("Adafactor", dict()),  # lr 1e-2 < 1/sqrt(t) for t < 1e4: rho = lr
    ("Adafactor", dict(lr=0.5, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=2.0)),  # rho = 1/sqrt(t) from t = 5
    ("Adafactor", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Muon", dict()),
    ("Muon", dict(lr=0.02, nesterov=False, adjust_lr_fn="match_rms_adamw")),
    ("Muon", dict(lr=0.01, weight_decay=0.0, momentum=0.3, adjust_lr_fn="original", ns_steps=3,
                  ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3)),  # momentum < 0.5: lerp's other branch
]

#: optimizers torch.optim does not have: tested against their formula and optax (Lion,
#: LAMB, LARS)
NOT_IN_TORCH = {"Lion", "LAMB", "LARS"}
#: optimizers without a CUDA path: device arrays are refused (test_device checks that)
HOST_ONLY = {"Adafactor"}


#: optimizers of 2-D params only: the tests give them their shapes as matrices (shapes_for)
MATRIX_ONLY = {"Muon"}


def shapes_for(name, shapes):
    """The shapes a table-driven test gives optimizer ``name``: as they are, or for a
    matrix-only optimizer each as a matrix of as many elements (0-d: (1, 1); a vector of
    n: (n / d, d), d its largest divisor <= 8; more dimensions folded into the columns)."""
    if name not in MATRIX_ONLY:
        return shapes
    out = []
    for s in shapes:
        if len(s) == 0:
            out.append((1, 1))
        elif len(s) == 1:
            d = max(k for k in range(1, 9) if s[0] % k == 0)
            out.append((s[0] // d, d))
        else:
            out.append((s[0], int(np.prod(s[1:]))))
    return out


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


def sign_tie_slack(cfg):
    """Lion's update is sign(beta1 m + (1 - beta1) g): where that sum is within rounding of
    0, two correct implementations (one contracting the sum into an FMA, one not) can take
    opposite signs, and the param then differs by 2 lr for that step. Returns the absolute
    slack such an element may show (None for the other optimizers): a few ties per run."""
    name, kw = cfg
    if name != "Lion":
        return None
    return 6 * kw.get("lr", 1e-4)


def assert_close_up_to_ties(actual, desired, rtol, slack, err_msg=""):
    """assert_close, except that at most 1 in 10^4 elements (and at least 1) may differ by
    up to ``slack`` (see sign_tie_slack); None means plain assert_close."""
    if slack is None:
        return assert_close(actual, desired, rtol, err_msg)
    actual, desired = np.asarray(actual), np.asarray(desired)
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    diff = np.abs(actual.astype(np.float64) - desired)
    off = diff > rtol * np.abs(desired) + rtol * max(scale, 1e-30)
    assert off.sum() <= max(1, desired.size // 10_000), f"{err_msg}: {off.sum()} elements differ"
    assert np.all(diff[off] <= slack), f"{err_msg}: a difference of {diff.max()} > {slack}"
