"""LAMB and LARS against optax.lamb / optax.lars (optional: optax and jax are in the
test extra, skipped where missing) and against what only they do: per-tensor trust
ratios from norms summed natively (bitwise the same for any thread count), a ratio of 1
where a norm is 0, and a step of two passes checked whole before anything changes.
torch.optim has neither; the registry rows run them through native vs reference,
threads, ISAs, state_dict, callable lr and bad input like the others."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import _native
from registry import all_state, assert_close, make_grads, make_params

STEPS = 100
SHAPES = [(7,), (31, 33), (3, 4, 5), (2000,)]
LAMB_CASES = [dict(), dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3),
              dict(lr=0.01, weight_decay=0.01, maximize=True)]
LARS_CASES = [dict(lr=0.1), dict(lr=0.5, momentum=0.8, weight_decay=0.01, nesterov=True),
              dict(lr=0.2, momentum=0.0, trust_coefficient=0.02, eps=1e-3, weight_decay=0.1),
              dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)]
# float64: the norms are summed in another order than jax's (per chunk in float64 here),
# so the trust ratios differ in the last bits; 100 steps keep that below 1e-12.
# float32: fusedoptim sums the norms in float64, optax in float32 (ratios ~1e-7 apart).
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _optax():
    optax = pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return optax


def _run_against(tx, opt, params, rng, maximize):
    import jax.numpy as jnp
    import optax

    jparams = [jnp.asarray(p) for p in params]
    state = tx.init(jparams)
    sign = -1.0 if maximize else 1.0  # optax has no maximize: it is the negated gradient
    for _ in range(STEPS):
        grads = make_grads(rng, params)
        updates, state = tx.update([jnp.asarray(sign * g) for g in grads], state, jparams)
        jparams = optax.apply_updates(jparams, updates)
        opt.step(grads)
    return [np.asarray(p) for p in jparams], state


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", LAMB_CASES, ids=str)
def test_lamb_matches_optax(kw, dtype):
    optax = _optax()
    rng = np.random.default_rng(11)
    params = make_params(rng, SHAPES, dtype)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    tx = optax.lamb(learning_rate=kw.get("lr", 1e-3), b1=b1, b2=b2, eps=kw.get("eps", 1e-6),
                    weight_decay=kw.get("weight_decay", 0.0))
    opt = fusedoptim.LAMB(params, **kw)
    want, state = _run_against(tx, opt, params, rng, kw.get("maximize", False))
    adam_state = state[0]
    for i, (p, w) in enumerate(zip(params, want)):
        assert_close(p, w, TOL[dtype], err_msg=f"param {i}")
        assert_close(opt.state[i]["exp_avg"], np.asarray(adam_state.mu[i]), TOL[dtype])
        assert_close(opt.state[i]["exp_avg_sq"], np.asarray(adam_state.nu[i]), TOL[dtype])
        assert opt.state[i]["step"] == STEPS


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", LARS_CASES, ids=str)
def test_lars_matches_optax(kw, dtype):
    optax = _optax()
    rng = np.random.default_rng(12)
    params = make_params(rng, SHAPES, dtype)
    tx = optax.lars(learning_rate=kw["lr"], weight_decay=kw.get("weight_decay", 0.0),
                    trust_coefficient=kw.get("trust_coefficient", 1e-3), eps=kw.get("eps", 0.0),
                    momentum=kw.get("momentum", 0.9), nesterov=kw.get("nesterov", False))
    opt = fusedoptim.LARS(params, **kw)
    want, state = _run_against(tx, opt, params, rng, kw.get("maximize", False))
    trace = next(s for s in state if hasattr(s, "trace")).trace
    for i, (p, w) in enumerate(zip(params, want)):
        assert_close(p, w, TOL[dtype], err_msg=f"param {i}")
        assert_close(opt.state[i]["momentum_buffer"], np.asarray(trace[i]), TOL[dtype] * 10)
    assert set(opt.state[0]) == {"momentum_buffer"}  # optax's trace only, no step count


def test_sums_are_bitwise_the_same_for_any_thread_count():
    """The per-tensor norms behind the trust ratios: each tensor cut into the same chunks
    whatever the thread count, partials added in order."""
    rng = np.random.default_rng(3)
    shapes = [(300_001,), (17,), (1 << 17, 3), (5,)]
    before = fusedoptim.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fusedoptim.set_num_threads(threads)
            ps = make_params(np.random.default_rng(1), shapes, np.float32)
            gs = make_grads(np.random.default_rng(2), ps)
            work = fusedoptim.functional.lars_work(ps, gs, [np.zeros_like(p) for p in ps], lr=0.1,
                                                   weight_decay=0.01)
            norms = (_native.SPECS["lars_norms"]["id"], 2, (0.01,), (ps, gs), None)
            results.append(_native.apply_sums([norms]))
            del work
    finally:
        fusedoptim.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    ps = make_params(np.random.default_rng(1), shapes, np.float32)
    gs = make_grads(np.random.default_rng(2), ps)
    for i, (p, g) in enumerate(zip(ps, gs)):
        p64, g64 = p.astype(np.float64), g.astype(np.float64)
        # g + wd * p in float32, each op rounded, as the kernel does on every path (the ISA
        # kernels are compiled without FMA contraction)
        u = (g + np.float32(0.01) * p).astype(np.float64)
        np.testing.assert_allclose(results[0][i], [np.sum(p64 ** 2), np.sum(u ** 2)],
                                   rtol=1e-12)
    del rng


@pytest.mark.parametrize("name", ["LAMB", "LARS"])
def test_whole_steps_are_bitwise_the_same_for_any_thread_count(name):
    before = fusedoptim.get_num_threads()
    finals = []
    try:
        for threads in (1, 2):
            fusedoptim.set_num_threads(threads)
            rng = np.random.default_rng(5)
            params = make_params(rng, [(200_000,), (300, 301), (9,)], np.float32)
            opt = getattr(fusedoptim, name)(params, lr=0.01, weight_decay=0.01)
            for _ in range(3):
                opt.step(make_grads(rng, params))
            finals.append([p.copy() for p in params] + list(all_state(opt).values()))
    finally:
        fusedoptim.set_num_threads(before)
    for a, b in zip(*finals):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["LAMB", "LARS"])
def test_a_zero_norm_gives_a_trust_ratio_of_one(name):
    """A param of zeros (a fresh bias) has ||p|| = 0: optax takes a ratio of 1 there, not 0
    (which would freeze it forever); the other tensors keep their own ratio."""
    rng = np.random.default_rng(8)
    params = [np.zeros(50), rng.standard_normal(40)]
    copies = [p.copy() for p in params]
    kw = dict(lr=0.1)
    opt = getattr(fusedoptim, name)(params, **kw)
    ref = getattr(fusedoptim.reference, name)(copies, **kw)
    grads = make_grads(rng, params)
    opt.step(grads)
    ref.step(grads)
    assert np.all(params[0] != 0)
    if name == "LARS":  # ratio 1: the step is -lr g exactly
        np.testing.assert_array_equal(params[0], -0.1 * grads[0])
    for a, b in zip(params, copies):
        assert_close(a, b, 1e-15)


@pytest.mark.parametrize("name", ["LAMB", "LARS"])
def test_a_bad_array_in_a_later_group_changes_nothing(name):
    """The step's first pass checks every group's arrays before any pass runs."""
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(30), rng.standard_normal((4, 5))
    opt = getattr(fusedoptim, name)([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step([rng.standard_normal(30), rng.standard_normal((4, 5))])
    before = [a.copy(), b.copy()] + [np.copy(v) for v in all_state(opt).values()]
    with pytest.raises(ValueError, match="grads"):
        opt.step([rng.standard_normal(30), rng.standard_normal((5, 4))])
    with pytest.raises(TypeError, match="float32 or float64|dtype"):
        opt.step([rng.standard_normal(30), rng.standard_normal((4, 5)).astype(np.float16)])
    after = [a, b] + list(all_state(opt).values())
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def test_apply_sums_refuses_a_family_that_does_not_sum():
    p, g, m, v = (np.ones(4) for _ in range(4))
    work = fusedoptim.functional.adam_work([p], [g], [m], [v], None, 1, lr=0.1)
    with pytest.raises(ValueError, match="not an update that sums"):
        _native.apply_sums([work])
    np.testing.assert_array_equal(p, 1.0)


def test_lars_needs_an_lr():
    with pytest.raises(TypeError, match="lr"):
        fusedoptim.LARS([np.ones(3)])
