"""Every optimizer and option of the registry against torch.optim in float64 over
100 steps: params and every state buffer (rtol 1e-11 of each array's scale; torch
and fusedoptim differ only by FMA contraction within an element). Skipped when
torch is not installed; torch is never a runtime dependency."""
import numpy as np
import pytest

import fusedoptim
from registry import CONFIGS, IDS, SMALL_SHAPES, assert_close, make_grads, make_params

torch = pytest.importorskip("torch")

STEPS = 100
# Our state names are torch's, except where torch's class keeps no such entry.
SKIP_KEYS = set()


def _torch_opt(name, params, kw):
    return getattr(torch.optim, name)(params, **kw)


def _compare_state(opt, topt, tparams):
    for i, tp in enumerate(tparams):
        tstate = topt.state[tp]
        ours = dict(opt.state[i])
        assert set(ours) == set(tstate), (i, set(ours), set(tstate))
        for key, value in tstate.items():
            if key == "step":
                assert ours[key] == int(value.item())
            else:
                assert_close(ours[key], value.numpy(), 1e-11, err_msg=f"state[{i}][{key!r}]")


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_matches_torch(cfg):
    name, kw = cfg
    rng = np.random.default_rng(7)
    params = make_params(rng, SMALL_SHAPES + [(2000,)], np.float64)
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
        assert_close(p, tp.detach().numpy(), 1e-11, err_msg=f"param {i}")
    _compare_state(opt, topt, tparams)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_steps_without_gradients_match_torch(cfg):
    """A None grad skips its param (no update, no state, no step count), as a param
    without .grad in torch; param groups with their own lr as well."""
    name, kw = cfg
    rng = np.random.default_rng(11)
    params = make_params(rng, [(5,), (3, 4), (6,)], np.float64)
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
    _compare_state(opt, topt, tparams)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop"])
def test_defaults_match_torch(name):
    p = np.zeros(3)
    ours = getattr(fusedoptim, name)([p]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)]).defaults
    for key, value in ours.items():
        if key == "decoupled_weight_decay" and key not in theirs:
            continue
        assert key in theirs, key
        expected = theirs[key]
        assert (tuple(value) if isinstance(value, (tuple, list)) else value) == \
            (tuple(expected) if isinstance(expected, (tuple, list)) else expected), key
