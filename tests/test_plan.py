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
