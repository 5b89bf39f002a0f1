"""The reused step plan: whatever changes between steps is noticed, and the result
is always that of the general path."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import _native
from registry import make_grads, make_params


def _pair(rng, name="Adam", **kw):
    """A native optimizer and its reference twin on equal copies, past the first steps."""
    params = make_params(rng, [(5,), (3, 4), (70000,)], np.float64)
    copies = [p.copy() for p in params]
    opt = getattr(fusedoptim, name)(params, **kw)
    ref = getattr(fusedoptim.reference, name)(copies, **kw)
    for _ in range(3):
        g = make_grads(rng, params)
        opt.step(g)
        ref.step(g)
    assert opt._fast is not None
    return opt, ref, params, copies


def _same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_replacing_a_param_in_the_group_list():
    rng = np.random.default_rng(0)
    opt, ref, params, copies = _pair(rng)
    new = rng.standard_normal(5)
    opt.param_groups[0]["params"][0] = new
    ref.param_groups[0]["params"][0] = new.copy()
    g = make_grads(rng, params)
    opt.step(g)
    ref.step(g)
    _same(opt.param_groups[0]["params"], ref.param_groups[0]["params"])


def test_param_made_read_only_after_plan():
    rng = np.random.default_rng(1)
    opt, _, params, _ = _pair(rng)
    params[1].flags.writeable = False
    before = [p.copy() for p in params]
    with pytest.raises(ValueError, match=r"params\[1\].*read-only"):
        opt.step(make_grads(rng, params))
    _same(params, before)


@pytest.mark.parametrize("key, value", [("lr", 0.5), ("amsgrad", True), ("betas", (0.5, 0.9)),
                                        ("weight_decay", 0.1), ("maximize", True)])
def test_hyperparameter_change_applies(key, value):
    rng = np.random.default_rng(2)
    opt, ref, params, copies = _pair(rng)
    opt.param_groups[0][key] = value
    ref.param_groups[0][key] = value
    for _ in range(3):
        g = make_grads(rng, params)
        opt.step(g)
        ref.step(g)
    _same(params, copies)


def test_state_replaced_or_loaded():
    rng = np.random.default_rng(3)
    opt, ref, params, copies = _pair(rng, "SGD", lr=0.1, momentum=0.9)
    opt.state[0]["momentum_buffer"] = np.full(5, 3.0)
    ref.state[0]["momentum_buffer"] = np.full(5, 3.0)
    g = make_grads(rng, params)
    opt.step(g)
    ref.step(g)
    _same(params, copies)
    ref_sd = ref.state_dict()
    opt.load_state_dict(ref_sd)
    for p, c in zip(params, copies):
        p[...] = c
    g = make_grads(rng, params)
    opt.step(g)
    ref.step(g)
    _same(params, copies)


def test_isa_switch_and_none_grads(restore_runtime):
    rng = np.random.default_rng(4)
    opt, ref, params, copies = _pair(rng)
    _native.set_isa("scalar")
    g = make_grads(rng, params)
    opt.step(g)
    ref.step(g)
    g = make_grads(rng, params)
    g[1] = None
    opt.step(g)
    ref.step(g)
    for _ in range(2):
        g = make_grads(rng, params)
        opt.step(g)
        ref.step(g)
    _same(params, copies)
    assert opt.state[1]["step"] == 6 and opt.state[0]["step"] == 7


def test_grad_aliasing_caught_on_the_plan_path():
    rng = np.random.default_rng(5)
    opt, _, params, _ = _pair(rng)
    g = make_grads(rng, params)
    g[2] = opt.state[2]["exp_avg"]
    before = opt.state[2]["exp_avg"].copy()
    with pytest.raises(ValueError, match=r"grads\[2\].*shares memory"):
        opt.step(g)
    np.testing.assert_array_equal(opt.state[2]["exp_avg"], before)


def test_plan_keeps_every_array_it_reads_alive():
    """A plan reads its non-grad operands on every run: it must own references to them
    (the triad's c here is referenced by nothing else)."""
    import gc
    import sys

    rng = np.random.default_rng(6)
    n = 1 << 21  # large enough to be returned to the OS when freed
    a, b = np.zeros(n), rng.standard_normal(n)
    c = rng.standard_normal(n)
    expected = b + 0.5 * c
    refs = sys.getrefcount(c)
    spec = _native.SPECS["triad"]
    plan = _native.Plan([(spec["id"], 0, (0.5,), [[a], [b], [c]], None)])
    assert sys.getrefcount(c) == refs + 1
    del c
    gc.collect()
    rng.standard_normal(n)  # reuse freed memory if it were freed
    plan.run([b], [(0.5,)])
    np.testing.assert_array_equal(a, expected)


# ------------------------------------------- hyperparameters edited in place (lists)
@pytest.mark.parametrize("name, key, value, index, new", [
    ("Adam", "betas", [0.9, 0.999], 0, 0.0),
    ("Adam", "betas", [0.9, 0.999], 1, 0.5),
    ("Rprop", "etas", [0.5, 1.2], 1, 1.9),
    ("Rprop", "step_sizes", [1e-6, 50.0], 1, 1e-3),
])
def test_in_place_edit_of_a_list_hyperparameter_applies(name, key, value, index, new):
    """The plan's key must hold a snapshot of the values, not the user's own list."""
    rng = np.random.default_rng(10)
    opt, ref, params, copies = _pair(rng, name, lr=0.1, **{key: list(value)})
    for o in (opt, ref):
        o.param_groups[0][key][index] = new
    for _ in range(3):
        g = make_grads(rng, params)
        opt.step(g)
        ref.step(g)
    _same(params, copies)


def test_in_place_edit_betas_example():
    """Adam([p], lr=.1, betas=[0.9, 0.999]): 3 steps, betas[0] = 0, 3 more steps."""
    grads = np.random.default_rng(15).standard_normal((6, 2))
    results = []
    for cls in (fusedoptim.Adam, fusedoptim.reference.Adam):
        p = np.array([1.0, -2.0])
        opt = cls([p], lr=0.1, betas=[0.9, 0.999])
        for g in grads[:3]:
            opt.step([g])
        opt.param_groups[0]["betas"][0] = 0.0
        for g in grads[3:]:
            opt.step([g])
        results.append(p)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-14)


# ---------------------------------------------- arrays changed in place after the plan
def _errors_alike(opt, params, g):
    """The step raises (on the plan's path), and again on the general path, with the same
    error; nothing changed. Returns the error."""
    before = [p.copy() for p in params]
    with pytest.raises((TypeError, ValueError)) as first:
        opt.step(g)
    assert opt._fast is None
    with pytest.raises(type(first.value)) as again:
        opt.step(g)
    assert str(first.value) == str(again.value)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.view(np.uint8), b.view(np.uint8))
    return first.value


def test_param_dtype_changed_in_place():
    rng = np.random.default_rng(11)
    opt, _, params, _ = _pair(rng)
    params[0].dtype = np.float32  # float64 (5,) -> float32 (10,): the same bytes
    err = _errors_alike(opt, params, make_grads(rng, params))
    assert "exp_avg" in str(err)


def test_param_shape_changed_in_place():
    rng = np.random.default_rng(12)
    opt, _, params, _ = _pair(rng)
    params[1].shape = (4, 3)
    err = _errors_alike(opt, params, make_grads(rng, params))
    assert "exp_avg" in str(err) and "shape" in str(err)


@pytest.mark.parametrize("change", ["dtype", "shape"])
def test_state_buffer_changed_in_place(change):
    rng = np.random.default_rng(13)
    opt, _, params, _ = _pair(rng)
    buf = opt.state[1]["exp_avg_sq"]
    if change == "dtype":
        buf.dtype = np.float32
    else:
        buf.shape = (12,)
    err = _errors_alike(opt, params, make_grads(rng, params))
    assert "exp_avg_sq" in str(err)


def _move(a):
    """Give the array new memory, in place (same object, shape, dtype and values)."""
    old, shape = a.ctypes.data, a.shape
    a.resize(a.size + 4096, refcheck=False)
    a.resize(shape, refcheck=False)
    assert a.ctypes.data != old


@pytest.mark.parametrize("which", ["param", "state"])
def test_array_memory_moved_in_place(which):
    """The plan must not write to the memory the array had when it was made."""
    rng = np.random.default_rng(14)
    opt, ref, params, copies = _pair(rng)
    for o, ps in ((opt, params), (ref, copies)):
        _move(ps[1] if which == "param" else o.state[1]["exp_avg"])
    for _ in range(2):
        g = make_grads(rng, params)
        opt.step(g)
        ref.step(g)
    _same(params, copies)
    for i in range(3):
        for k in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(opt.state[i][k], ref.state[i][k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key, value, new", [("lr", 1.0, True), ("weight_decay", 0, False),
                                             ("amsgrad", True, 1.0)])
def test_assigning_an_equal_value_of_another_type_is_checked(key, value, new):
    """1.0 == True in Python, but the general path rejects a bool lr: so must the plan."""
    rng = np.random.default_rng(16)
    opt, _, params, _ = _pair(rng, **{key: value})
    opt.param_groups[0][key] = new
    before = [p.copy() for p in params]
    with pytest.raises(TypeError, match=key):
        opt.step(make_grads(rng, params))
    _same(params, before)
