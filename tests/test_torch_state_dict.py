"""State dicts cross between torch.optim and fusedoptim, for every optimizer both have
(every option of the registry): torch's state_dict() (tensors, 'step' a float32
tensor) loads into the fusedoptim class of the same name and options, and fusedoptim's
state_dict() with its arrays converted by torch.from_numpy loads into torch's. After
the switch both run on the same trajectory.

Tolerances: float64 rtol 1e-11 of each array's scale (torch and fusedoptim differ only
by FMA contraction within an element, tests/test_torch_conformance.py); float32 rtol
2e-5 (the same roundings in single precision, over a few steps). Skipped without torch;
torch is never a runtime dependency of fusedoptim.
"""
import numpy as np
import pytest

import fusedoptim
from registry import CONFIGS, IDS, NOT_IN_TORCH, assert_close, make_grads, make_params, shapes_for

torch = pytest.importorskip("torch")
from torch_twins import torch_class  # noqa: E402 - needs torch

SHAPES = [(0,), (), (7,), (31, 33), (3, 5, 2)]


def _shapes(name):
    """SHAPES as ``name`` takes them (matrices for Muon); torch's Adafactor divides by the
    numel, so an empty param is a ZeroDivisionError there: left out for it."""
    return shapes_for(name, [s for s in SHAPES if name != "Adafactor" or s != (0,)])
BEFORE, AFTER = 6, 6
RTOL = {np.float64: 1e-11, np.float32: 2e-5}
# Lion is not in torch.optim
PAIRS = [(c, i) for c, i in zip(CONFIGS, IDS) if c[0] not in NOT_IN_TORCH]
TORCH_CONFIGS, TORCH_IDS = [c for c, _ in PAIRS], [i for _, i in PAIRS]


def _step_torch(topt, tparams, grads):
    for tp, g in zip(tparams, grads):
        tp.grad = None if g is None else torch.from_numpy(g.copy())
    topt.step()


def _grads(rng, params, skip=None):
    """Fresh grads; param ``skip`` gets None (no grad: no state for it in either)."""
    grads = make_grads(rng, params)
    if skip is not None:
        grads[skip] = None
    return grads


def _to_torch(sd):
    """fusedoptim's state_dict for torch: arrays through torch.from_numpy."""
    return {"state": {i: {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
                          for k, v in entry.items()} for i, entry in sd["state"].items()},
            "param_groups": sd["param_groups"]}


def _groups(params, kw):
    """Two param groups, the second with its own lr (torch's form of groups)."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": kw.get("lr", 0.01) * 0.5}]


def _assert_same(params, tparams, opt, topt, rtol):
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), rtol, err_msg=f"param {i}")
        tstate = topt.state[tp]
        assert set(opt.state[i]) == set(tstate), (i, set(opt.state[i]), set(tstate))
        for key, value in tstate.items():
            if key == "step":
                assert opt.state[i]["step"] == int(value.item())
            elif key in opt._scalar_state:
                # NAdam's mu_product, ASGD's eta and mu: float32 in both, until torch's
                # load_state_dict casts them to the param's dtype (float64) and goes on in
                # that precision; fusedoptim keeps torch's float32. Float32's precision,
                # over the few steps after the switch.
                assert_close(opt.state[i][key], value.numpy(), 1e-6, err_msg=f"state[{i}][{key}]")
            else:
                assert_close(opt.state[i][key], value.numpy(), rtol, err_msg=f"state[{i}][{key}]")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", TORCH_CONFIGS, ids=TORCH_IDS)
def test_torch_state_dict_loads_into_fusedoptim(cfg, dtype):
    name, kw = cfg
    rng = np.random.default_rng(21)
    start = make_params(rng, _shapes(name), dtype)
    tparams = [torch.tensor(p, requires_grad=True) for p in start]
    topt = torch_class(name)(_groups(tparams, kw), **kw)
    for t in range(BEFORE):
        _step_torch(topt, tparams, _grads(rng, start, skip=1))   # param 1: never a grad
    sd = topt.state_dict()
    assert all(isinstance(e["step"], torch.Tensor) for e in sd["state"].values() if "step" in e)

    params = [tp.detach().numpy().copy() for tp in tparams]
    opt = getattr(fusedoptim, name)(_groups(params, kw), **kw)
    opt.load_state_dict(sd)
    _assert_same(params, tparams, opt, topt, 0.0)    # loaded exactly
    for t in range(AFTER):
        grads = _grads(rng, params, skip=1 if t % 2 else None)
        _step_torch(topt, tparams, grads)
        opt.step(grads)
    _assert_same(params, tparams, opt, topt, RTOL[dtype])
    assert opt.param_groups[1]["lr"] == topt.param_groups[1]["lr"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", TORCH_CONFIGS, ids=TORCH_IDS)
def test_fusedoptim_state_dict_loads_into_torch(cfg, dtype):
    name, kw = cfg
    rng = np.random.default_rng(22)
    params = make_params(rng, _shapes(name), dtype)
    opt = getattr(fusedoptim, name)(_groups(params, kw), **kw)
    for t in range(BEFORE):
        opt.step(_grads(rng, params, skip=1))

    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    topt = torch_class(name)(_groups(tparams, kw), **kw)
    topt.load_state_dict(_to_torch(opt.state_dict()))
    _assert_same(params, tparams, opt, topt, 0.0)
    for t in range(AFTER):
        grads = _grads(rng, params, skip=1 if t % 2 else None)
        _step_torch(topt, tparams, grads)
        opt.step(grads)
    _assert_same(params, tparams, opt, topt, RTOL[dtype])


def test_named_params_state_dict_loads_into_torch():
    """A state_dict of named params carries 'param_names' in its groups, as torch's does
    for named_parameters(); torch loads it."""
    rng = np.random.default_rng(23)
    params = {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    opt = fusedoptim.Adam(params, lr=0.01)
    for _ in range(3):
        opt.step({k: rng.standard_normal(v.shape) for k, v in params.items()})
    tparams = [torch.tensor(params[k].copy(), requires_grad=True) for k in ("w", "b")]
    topt = torch.optim.Adam(tparams, lr=0.01)
    topt.load_state_dict(_to_torch(opt.state_dict()))
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    _step_torch(topt, tparams, [grads["w"], grads["b"]])
    opt.step(grads)
    for k, tp in zip(("w", "b"), tparams):
        assert_close(params[k], tp.detach().numpy(), 1e-11, err_msg=k)


def test_sgd_momentum_buffer_none_loads():
    """torch.optim.SGD without momentum has kept {'momentum_buffer': None} per param
    (torch < 2.0 state dicts): None means no buffer, as in torch."""
    params = [np.ones(3), np.ones(2)]
    opt = fusedoptim.SGD(params, lr=0.1)
    sd = {"state": {0: {"momentum_buffer": None}, 1: {"momentum_buffer": None}},
          "param_groups": [{"lr": 0.1, "momentum": 0, "dampening": 0, "weight_decay": 0,
                            "nesterov": False, "maximize": False, "foreach": None,
                            "differentiable": False, "fused": None, "params": [0, 1]}]}
    opt.load_state_dict(sd)
    assert len(opt.state) == 0
    opt.step([np.ones(3), np.ones(2)])
    np.testing.assert_array_equal(params[0], np.full(3, 0.9))


def test_sgd_momentum_buffer_none_then_momentum_starts_fresh():
    """A None buffer loaded into SGD with momentum: the next step starts the buffer from
    the gradient, as torch does for a param whose buffer is None."""
    params = [np.zeros(3)]
    opt = fusedoptim.SGD(params, lr=1.0, momentum=0.9)
    sd = opt.state_dict()
    sd["state"] = {0: {"momentum_buffer": None}}
    opt.load_state_dict(sd)
    opt.step([np.ones(3)])
    np.testing.assert_array_equal(params[0], -np.ones(3))
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], np.ones(3))


def test_tensor_that_requires_grad_loads():
    """State tensors are read without importing torch: a tensor that requires grad is
    detached rather than refused (np.asarray alone would raise)."""
    params = [np.zeros(4, dtype=np.float32)]
    opt = fusedoptim.Adam(params)
    exp_avg = torch.full((4,), 0.5, requires_grad=True)
    sd = opt.state_dict()
    sd["state"] = {0: {"step": torch.tensor(2.0), "exp_avg": exp_avg,
                       "exp_avg_sq": torch.full((4,), 0.25, dtype=torch.float64)}}
    opt.load_state_dict(sd)
    assert opt.state[0]["step"] == 2
    assert opt.state[0]["exp_avg"].dtype == np.float32          # the param's dtype
    assert opt.state[0]["exp_avg_sq"].dtype == np.float32
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], np.full(4, 0.5, np.float32))


def test_bfloat16_tensor_state_loads_as_the_params_dtype():
    """NumPy has no bfloat16: such a tensor is widened (exactly) before conversion."""
    params = [np.zeros(3, dtype=np.float32)]
    opt = fusedoptim.SGD(params, lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["state"] = {0: {"momentum_buffer": torch.tensor([1.0, -2.5, 3.0], dtype=torch.bfloat16)}}
    opt.load_state_dict(sd)
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"],
                                  np.array([1.0, -2.5, 3.0], np.float32))


def test_bad_tensor_state_names_the_entry_and_changes_nothing():
    params = [np.zeros(4)]
    opt = fusedoptim.Adam(params)
    opt.step([np.ones(4)])
    before = {k: np.copy(v) for k, v in opt.state[0].items()}
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = torch.zeros(5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"state_dict\['state'\]\[0\]\['exp_avg'\]"):
        opt.load_state_dict(sd)
    for k, v in before.items():
        np.testing.assert_array_equal(opt.state[0][k], v)


# ------------------------------------------------------------------------------ LBFGS
# torch.optim.LBFGS keeps its history as flat vectors (all params concatenated) and its
# scalars (ro, H_diag, al, t) as 0-d tensors; fusedoptim exports the same layout, with
# floats for the scalars, and reads both. Rosenbrock in 7 dimensions split over two
# params; the same NumPy values and gradients on both sides, so that only the
# optimizers' arithmetic differs (rtol 1e-9: L-BFGS amplifies rounding differences over
# its iterations more than a first-order step does).
SPLIT = [(3,), (2, 2)]
X0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.5, -1.0, 0.3])


def _rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def _rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def _split(x):
    out, off = [], 0
    for s in SPLIT:
        n = int(np.prod(s))
        out.append(x[off:off + n].reshape(s).copy())
        off += n
    return out


def _flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


def _fused_closure(params):
    def closure():
        x = _flat(params)
        return _rosen(x), _split(_rosen_grad(x))
    return closure


def _torch_closure(tparams):
    def closure():
        x = _flat([t.detach().numpy() for t in tparams])
        for t, g in zip(tparams, _split(_rosen_grad(x))):
            t.grad = torch.from_numpy(g)
        return _rosen(x)
    return closure


def _from_numpy_all(x):
    """fusedoptim's state_dict for torch: every array, in lists too, through from_numpy."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, dict):
        return {k: _from_numpy_all(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_from_numpy_all(v) for v in x]
    return x


LBFGS_OPTIONS = [dict(lr=1, max_iter=4, history_size=3, line_search_fn="strong_wolfe"),
                 dict(lr=0.02, max_iter=5, history_size=4)]


@pytest.mark.parametrize("kw", LBFGS_OPTIONS, ids=["strong_wolfe", "fixed_step"])
def test_torch_lbfgs_state_dict_loads_into_fusedoptim(kw):
    tparams = [torch.from_numpy(p) for p in _split(X0)]
    topt = torch.optim.LBFGS(tparams, **kw)
    for _ in range(2):
        topt.step(_torch_closure(tparams))
    sd = topt.state_dict()
    assert isinstance(sd["state"][0]["d"], torch.Tensor) and sd["state"][0]["d"].ndim == 1

    params = [t.numpy().copy() for t in tparams]
    opt = fusedoptim.LBFGS(params, **kw)
    opt.load_state_dict(sd)
    _continue_lbfgs_both(opt, params, topt, tparams)


def _continue_lbfgs_both(opt, params, topt, tparams):
    """Three more steps of both after a load: same params (float64: rtol 1e-9, the line
    search's own rounding) and the same iteration and evaluation counts."""
    for _ in range(3):
        topt.step(_torch_closure(tparams))
        opt.step(_fused_closure(params))
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p, t.numpy(), rtol=1e-9, atol=1e-12)
    tstate = topt.state[tparams[0]]
    assert (opt.state[0]["n_iter"], opt.state[0]["func_evals"]) == \
        (tstate["n_iter"], tstate["func_evals"])


@pytest.mark.parametrize("kw", LBFGS_OPTIONS, ids=["strong_wolfe", "fixed_step"])
def test_fusedoptim_lbfgs_state_dict_loads_into_torch(kw):
    params = _split(X0)
    opt = fusedoptim.LBFGS(params, **kw)
    for _ in range(2):
        opt.step(_fused_closure(params))
    sd = opt.state_dict()
    assert sd["state"][0]["d"].shape == (X0.size,)         # torch's flat layout

    tparams = [torch.from_numpy(p.copy()) for p in params]
    topt = torch.optim.LBFGS(tparams, **kw)
    topt.load_state_dict(_from_numpy_all(sd))
    _continue_lbfgs_both(opt, params, topt, tparams)


def test_lbfgs_flat_vector_of_the_wrong_size_is_refused_by_name():
    params = _split(X0)
    opt = fusedoptim.LBFGS(params)
    opt.step(_fused_closure(params))
    sd = opt.state_dict()
    sd["state"][0]["d"] = torch.zeros(X0.size + 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"state_dict\['state'\]\[0\]\['d'\]"):
        opt.load_state_dict(sd)
