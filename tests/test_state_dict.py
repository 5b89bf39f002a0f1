"""state_dict / load_state_dict: a checkpoint loaded into a fresh optimizer resumes
bit-identically; loading is checked completely before anything changes."""
import numpy as np
import pytest

import fusedoptim
from registry import CONFIGS, IDS, SMALL_SHAPES, assert_unchanged, make_grads, make_params, shapes_for, snapshot


def _run(opt, grads_seq):
    for g in grads_seq:
        opt.step(g)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_resume_is_bit_identical(cfg, dtype):
    name, kw = cfg
    rng = np.random.default_rng(3)
    params = make_params(rng, shapes_for(name, SMALL_SHAPES + [(70000,)]), dtype)
    grads = [make_grads(rng, params) for _ in range(20)]
    opt = getattr(fusedoptim, name)(params, **kw)
    _run(opt, grads[:10])
    sd = opt.state_dict()
    resumed_params = [p.copy() for p in params]
    _run(opt, grads[10:])

    fresh = getattr(fusedoptim, name)(resumed_params, **kw)
    fresh.load_state_dict(sd)
    _run(fresh, grads[10:])
    for a, b in zip(params, resumed_params):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy():
    rng = np.random.default_rng(0)
    params = make_params(rng, [(4,), (2, 3)], np.float64)
    opt = fusedoptim.Adam(params, lr=0.1)
    opt.step(make_grads(rng, params))
    sd = opt.state_dict()
    exp_avg = opt.state[0]["exp_avg"].copy()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], exp_avg)
    sd["state"][0]["exp_avg"][...] = 123.0
    sd["param_groups"][0]["lr"] = 5.0
    np.testing.assert_array_equal(opt.state[0]["exp_avg"], exp_avg)
    assert opt.param_groups[0]["lr"] == 0.1
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["state"][0]["step"] == 1


def test_loaded_state_is_a_copy_and_restores_hyperparameters():
    rng = np.random.default_rng(1)
    params = make_params(rng, [(4,)], np.float64)
    opt = fusedoptim.SGD(params, lr=0.1, momentum=0.9)
    opt.step(make_grads(rng, params))
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.05
    other = fusedoptim.SGD([params[0].copy()], lr=0.1, momentum=0.9)
    other.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][...] = 0
    assert other.param_groups[0]["lr"] == 0.05
    np.testing.assert_array_equal(other.state[0]["momentum_buffer"],
                                  opt.state[0]["momentum_buffer"])
    assert other.state[0]["momentum_buffer"] is not opt.state[0]["momentum_buffer"]


def _trained(name="Adam", **kw):
    rng = np.random.default_rng(5)
    params = make_params(rng, [(4,), (2, 3)], np.float64)
    opt = getattr(fusedoptim, name)(params, **kw)
    opt.step(make_grads(rng, params))
    return opt


@pytest.mark.parametrize("mutate, match", [
    (lambda sd: sd["state"][0].__setitem__("exp_avg", np.zeros(5)), r"\[0\]\['exp_avg'\].*shape"),
    (lambda sd: sd["state"][1].__setitem__("momentum_buffer", np.zeros((2, 3))), "momentum_buffer"),
    (lambda sd: sd["state"].__setitem__(7, {"step": 1}), "7"),
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "param groups"),
    (lambda sd: sd["param_groups"][0].__setitem__("params", [0]), "params"),
    (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "lr"),
    (lambda sd: sd["state"][0].__setitem__("step", -2), "step"),
    (lambda sd: sd["state"][0].__setitem__("step", float("inf")), "step"),
    (lambda sd: sd["state"][0].__setitem__("step", float("nan")), "step"),
    (lambda sd: sd["state"][0].__setitem__("step", 2.5), "step"),
])
def test_bad_state_dict_changes_nothing(mutate, match):
    opt = _trained()
    sd = opt.state_dict()
    mutate(sd)
    before = snapshot(opt)
    groups_before = [dict(g) for g in opt.param_groups]
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    assert_unchanged(opt, before)
    assert [dict(g) for g in opt.param_groups] == groups_before


def test_state_dict_of_another_optimizer_is_rejected():
    adam = _trained("Adam")
    sgd = _trained("SGD", momentum=0.9)
    before = snapshot(sgd)
    with pytest.raises(ValueError, match="another optimizer"):
        sgd.load_state_dict(adam.state_dict())
    assert_unchanged(sgd, before)
    fresh_adam = fusedoptim.Adam([np.ones(4), np.ones((2, 3))])
    with pytest.raises(ValueError, match="another optimizer"):
        fresh_adam.load_state_dict(sgd.state_dict())
    with pytest.raises(TypeError, match="state_dict"):
        fresh_adam.load_state_dict([1, 2])
