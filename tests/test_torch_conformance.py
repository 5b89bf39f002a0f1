"""Every optimizer and option of the registry against torch.optim over 200 steps with
fresh random gradients: params and every state buffer, by torch's state names.

float64: rtol 1e-11 of each array's scale (torch and fusedoptim differ only by FMA
contraction within an element). float32: rtol 2e-5 of each array's scale: a few ulp per
step from the same contraction, carried along 200 steps by the moments (measured worst
case below 5e-6; Rprop's sign decisions on exact ties could differ, none occur here).
Skipped when torch is not installed; torch is never a runtime dependency. Lion is not
in torch.optim: tests/test_lion.py checks it against its formula and optax. Muon is
compared with torch's Muon with its Newton-Schulz kept in the params' dtype
(tests/torch_twins.py; tests/test_muon.py compares with torch's bfloat16 one too).
"""
import numpy as np
import pytest

import fusedoptim
from registry import (CONFIGS, IDS, MATRIX_ONLY, NOT_IN_TORCH, SMALL_SHAPES, assert_close,
                      make_grads, make_params, shapes_for)

torch = pytest.importorskip("torch")
from torch_twins import torch_class  # noqa: E402 - needs torch

STEPS = 200
RTOL = {np.float64: 1e-11, np.float32: 2e-5}
TORCH_CONFIGS = [(c, i) for c, i in zip(CONFIGS, IDS) if c[0] not in NOT_IN_TORCH]


def _torch_opt(name, params, kw):
    return torch_class(name)(params, **kw)


def _compare_state(opt, topt, tparams, rtol):
    for i, tp in enumerate(tparams):
        tstate = topt.state[tp]
        ours = dict(opt.state[i])
        assert list(ours) == list(tstate), (i, list(ours), list(tstate))  # names and order
        for key, value in tstate.items():
            if key == "step":
                assert ours[key] == int(value.item())
            else:
                assert ours[key].dtype == value.numpy().dtype, key
                assert_close(ours[key], value.numpy(), rtol, err_msg=f"state[{i}][{key!r}]")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", [c for c, _ in TORCH_CONFIGS], ids=[i for _, i in TORCH_CONFIGS])
def test_matches_torch(cfg, dtype):
    name, kw = cfg
    rng = np.random.default_rng(7)
    # torch's Adafactor divides by numel: an empty param is a ZeroDivisionError there
    shapes = [s for s in SMALL_SHAPES if name != "Adafactor" or s != (0,)]
    params = make_params(rng, shapes_for(name, shapes + [(2000,)]), dtype)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = getattr(fusedoptim, name)(params, **kw)
    topt = _torch_opt(name, tparams, kw)
    for _ in range(STEPS):
        grads = make_grads(rng, params)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        topt.step()
        opt.step(grads)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), RTOL[dtype], err_msg=f"param {i}")
    _compare_state(opt, topt, tparams, RTOL[dtype])


@pytest.mark.parametrize("cfg", [c for c, _ in TORCH_CONFIGS], ids=[i for _, i in TORCH_CONFIGS])
def test_steps_without_gradients_match_torch(cfg):
    """A None grad skips its param (no update, no state, no step count), as a param
    without .grad in torch; param groups with their own lr as well."""
    name, kw = cfg
    rng = np.random.default_rng(11)
    params = make_params(rng, shapes_for(name, [(5,), (3, 4), (6,)]), np.float64)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    lr = kw.get("lr", 0.01)
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": lr / 2}]
    tgroups = [{"params": tparams[:2]}, {"params": tparams[2:], "lr": lr / 2}]
    opt = getattr(fusedoptim, name)(groups, **kw)
    topt = _torch_opt(name, tgroups, kw)
    for t in range(12):
        grads = make_grads(rng, params)
        skip = {t % 3} if t % 2 else set()  # every other step drops one param's gradient
        for i, (tp, g) in enumerate(zip(tparams, grads)):
            tp.grad = None if i in skip else torch.tensor(g)
        topt.step()
        opt.step([None if i in skip else g for i, g in enumerate(grads)])
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), 1e-11, err_msg=f"param {i}")
    _compare_state(opt, topt, tparams, 1e-11)


NAMES = sorted({c[0] for c, _ in TORCH_CONFIGS})


@pytest.mark.parametrize("name", NAMES)
def test_defaults_match_torch(name):
    """Same keyword names and defaults as torch's constructor (ours lacks only torch's
    implementation switches: foreach, fused, capturable, differentiable)."""
    import inspect

    shape = (3, 2) if name in MATRIX_ONLY else (3,)
    ours = getattr(fusedoptim, name)([np.zeros(shape)]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(shape, requires_grad=True)]).defaults
    for key, value in ours.items():
        if key == "decoupled_weight_decay" and key not in theirs:
            continue
        assert key in theirs, key
        expected = theirs[key]
        assert (tuple(value) if isinstance(value, (tuple, list)) else value) == \
            (tuple(expected) if isinstance(expected, (tuple, list)) else expected), key
    switches = {"foreach", "fused", "capturable", "differentiable"}
    sig_ours = inspect.signature(getattr(fusedoptim, name))
    sig_torch = inspect.signature(getattr(torch.optim, name))
    for pname, param in sig_torch.parameters.items():
        if pname in switches:
            continue
        assert pname in sig_ours.parameters, f"{name}: torch's keyword {pname!r} is missing"
        if param.default is not inspect.Parameter.empty:
            assert sig_ours.parameters[pname].default == param.default, pname


def test_every_torch_elementwise_optimizer_is_here():
    """Each of torch.optim's elementwise optimizers has a fusedoptim class of that name
    (SparseAdam is out of scope: NumPy has no sparse gradients; LBFGS is second_order;
    Adafactor and Muon are not elementwise)."""
    elementwise = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop", "Adamax", "NAdam",
                   "RAdam", "Adadelta", "ASGD"]
    for name in elementwise:
        assert hasattr(torch.optim, name), name
        assert name in NAMES, f"{name} has no registry row with a torch comparison"
        assert issubclass(getattr(fusedoptim, name), fusedoptim.Optimizer)
