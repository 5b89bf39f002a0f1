"""The Python API: params as list / dict / groups, editable param_groups, the
functional layer, the state view, build_info and the ISA override."""
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import fusedoptim
from fusedoptim import functional as F
from registry import make_grads, make_params

NAMES = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop"]


def test_dict_params_and_grads_match_list_form():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    named = {"w": w.copy(), "b": b.copy()}
    listed = [w.copy(), b.copy()]
    o1, o2 = fusedoptim.Adam(named, lr=0.1), fusedoptim.Adam(listed, lr=0.1)
    for _ in range(3):
        gw, gb = rng.standard_normal((3, 2)), rng.standard_normal(2)
        o1.step({"b": gb, "w": gw})  # key order does not matter
        o2.step([gw, gb])
    np.testing.assert_array_equal(named["w"], listed[0])
    np.testing.assert_array_equal(named["b"], listed[1])
    assert set(o1.state["w"]) == {"step", "exp_avg", "exp_avg_sq"}
    assert o1.state["b"]["step"] == 3
    assert o1.state[named["w"]]["exp_avg"] is o1.state[0]["exp_avg"]
    assert o1.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_param_groups_lr_and_editing_between_steps():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    a0, b0 = a.copy(), b.copy()
    opt = fusedoptim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    g = rng.standard_normal(4)
    opt.step([g, g])
    np.testing.assert_allclose(a, a0 - 0.1 * g)
    np.testing.assert_allclose(b, b0 - 0.5 * g)
    opt.param_groups[0]["lr"] = 0.01
    a1, b1 = a.copy(), b.copy()
    opt.step([g, g])
    np.testing.assert_allclose(a, a1 - 0.01 * g)
    np.testing.assert_allclose(b, b1 - 0.5 * g)  # the other group keeps its own lr
    assert opt.param_groups[1]["momentum"] == 0  # defaults fill the group


def test_add_param_group():
    rng = np.random.default_rng(2)
    a, c = rng.standard_normal(3), rng.standard_normal(5)
    opt = fusedoptim.Adam([a], lr=0.1)
    opt.step([np.ones(3)])
    opt.add_param_group({"params": [c], "lr": 0.2})
    c0 = c.copy()
    opt.step([np.ones(3), np.ones(5)])
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1
    np.testing.assert_allclose(c, c0 - 0.2, rtol=1e-6)  # Adam's first step moves by ~lr
    with pytest.raises(ValueError, match="shares memory"):
        opt.add_param_group({"params": [a]})


def test_none_grad_skips_param():
    rng = np.random.default_rng(3)
    params = make_params(rng, [(3,), (4,)], np.float64)
    keep = params[1].copy()
    alone = [params[0].copy()]
    opt = fusedoptim.Adam(params)
    opt.step([np.ones(3), None])
    fusedoptim.Adam(alone).step([np.ones(3)])
    np.testing.assert_array_equal(params[1], keep)
    np.testing.assert_array_equal(params[0], alone[0])  # updated as if it were alone
    assert 1 not in opt.state and opt.state[0]["step"] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_matches_class(dtype):
    rng = np.random.default_rng(4)
    params = make_params(rng, [(5,), (2, 3)], dtype)
    mine = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in mine]
    v = [np.zeros_like(p) for p in mine]
    opt = fusedoptim.Adam(params, lr=0.01, weight_decay=0.1)
    for t in range(1, 6):
        grads = make_grads(rng, params)
        opt.step(grads)
        F.adam(mine, grads, m, v, None, t, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=0.1, amsgrad=False, maximize=False)
    for a, b in zip(params, mine):
        np.testing.assert_array_equal(a, b)


def test_functional_sgd_creates_momentum_buffers_like_torch():
    rng = np.random.default_rng(5)
    p = [rng.standard_normal(3), rng.standard_normal(2)]
    g = [rng.standard_normal(3), rng.standard_normal(2)]
    p0 = [x.copy() for x in p]
    bufs = [None, np.ones(2)]
    F.sgd(p, g, bufs, lr=0.1, momentum=0.9)
    np.testing.assert_array_equal(bufs[0], g[0])  # first step: the gradient itself
    np.testing.assert_allclose(bufs[1], 0.9 + g[1], rtol=1e-15)
    for x, x0, b in zip(p, p0, bufs):
        np.testing.assert_allclose(x, x0 - 0.1 * b, rtol=1e-15)  # each param moved by its buffer


def test_reference_has_same_classes_and_signatures():
    for name in NAMES:
        ours = inspect.signature(getattr(fusedoptim, name).__init__)
        ref = inspect.signature(getattr(fusedoptim.reference, name).__init__)
        assert ours == ref
    for name in ["sgd", "adagrad", "rmsprop", "adam", "adamw", "rprop"]:
        ours = inspect.signature(getattr(F, name)).parameters
        ref = inspect.signature(getattr(fusedoptim.reference.functional, name)).parameters
        assert list(ours) == [k for k in ref if k not in ("first_step", "names")]


def test_nan_in_grads_propagates_like_torch():
    """Non-finite grads are not checked: NaN where the grad is NaN or +-inf (inf / inf in
    Adam's m / sqrt(v)), the usual update everywhere else, as torch does."""
    g = np.array([np.nan, 1.0, np.inf, 2.0, -np.inf, 0.0, -3.0])
    p = [np.ones(7)]
    fusedoptim.Adam(p, lr=0.1).step([g])
    # Adam's first step: m/(1-b1) = g, sqrt(v/(1-b2)) = |g|: p - lr g / (|g| + eps)
    with np.errstate(invalid="ignore"):
        expected = 1.0 - 0.1 * g / (np.abs(g) + 1e-8)
    assert np.isnan(expected[[0, 2, 4]]).all() and np.isfinite(np.delete(expected, [0, 2, 4])).all()
    np.testing.assert_allclose(p[0], expected, rtol=1e-15, atol=0)  # NaN exactly where expected
    twin = [np.ones(7)]
    with np.errstate(invalid="ignore"):
        fusedoptim.reference.Adam(twin, lr=0.1).step([g])
    np.testing.assert_array_equal(p[0], twin[0])
    try:
        import torch
    except ImportError:
        return
    tp = torch.ones(7, dtype=torch.float64, requires_grad=True)
    tp.grad = torch.tensor(g)
    torch.optim.Adam([tp], lr=0.1).step()
    np.testing.assert_allclose(p[0], tp.detach().numpy(), rtol=1e-15, atol=0)


def test_build_info():
    info = fusedoptim.build_info()
    for key in ("compiler", "openmp", "num_threads", "isa_compiled", "isa"):
        assert key in info
    assert "scalar" in info["isa_compiled"]
    assert info["isa"] in info["isa_supported"]


def _import_with_isa(isa):
    env = dict(os.environ, FUSEDOPTIM_ISA=isa)
    return subprocess.run([sys.executable, "-c", "import fusedoptim; print(fusedoptim.build_info()['isa'])"],
                          env=env, capture_output=True, text=True)


@pytest.mark.parametrize("isa", fusedoptim.build_info()["isa_supported"])
def test_isa_override_selects_path(isa):
    out = _import_with_isa(isa)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == isa


def test_isa_override_rejects_unknown_or_unsupported():
    out = _import_with_isa("sse9")
    assert out.returncode != 0 and "FUSEDOPTIM_ISA" in out.stderr and "sse9" in out.stderr
    missing = [i for i in ("avx2", "avx512") if i not in fusedoptim.build_info()["isa_supported"]]
    for isa in missing:
        out = _import_with_isa(isa)
        assert out.returncode != 0 and "FUSEDOPTIM_ISA" in out.stderr


def test_state_entries_can_be_replaced_in_place():
    rng = np.random.default_rng(6)
    params = make_params(rng, [(3,)], np.float64)
    opt = fusedoptim.Adam(params, lr=0.01)
    opt.step(make_grads(rng, params))
    opt.state[0]["exp_avg"][...] = 0.0
    replaced = np.full(3, 2.0)
    opt.state[0]["exp_avg_sq"] = replaced
    assert opt.state[0]["exp_avg_sq"] is replaced
    with pytest.raises(ValueError, match="exp_avg"):
        opt.state[0]["exp_avg"] = np.zeros(4)
    # The next step starts from the edited state: the functional update of it, step 2.
    mine, m, v = [params[0].copy()], [np.zeros(3)], [np.full(3, 2.0)]
    grads = make_grads(rng, params)
    opt.step(grads)
    F.adam(mine, grads, m, v, None, 2, lr=0.01)
    np.testing.assert_array_equal(params[0], mine[0])
    np.testing.assert_array_equal(replaced, v[0])  # updated in place, the array assigned
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], m[0])


@pytest.mark.parametrize("clone", ["pickle", "deepcopy"])
def test_optimizer_can_be_pickled_and_copied(clone):
    import copy
    import pickle

    rng = np.random.default_rng(7)
    params = make_params(rng, [(4,), (2, 3)], np.float64)
    opt = fusedoptim.Adam(params, lr=0.1)
    for _ in range(3):
        opt.step(make_grads(rng, params))
    other = pickle.loads(pickle.dumps(opt)) if clone == "pickle" else copy.deepcopy(opt)
    other_params = [p for g in other.param_groups for p in g["params"]]
    grads = make_grads(rng, params)
    opt.step(grads)
    other.step(grads)
    for a, b in zip(params, other_params):
        np.testing.assert_array_equal(a, b)
    assert other_params[0] is not params[0] and other.state[0]["step"] == 4
