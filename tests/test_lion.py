"""Lion against its formula (Chen et al. 2023, Algorithm 2; optax.lion), written here
line by line, and against optax.lion where optax is installed (optional: jax is no test
dependency). torch.optim has no Lion; the registry rows run it through native vs
reference, threads, ISAs, state_dict, bad input and the device columns like the others."""
import numpy as np
import pytest

import fusedoptim
from registry import assert_close, make_grads, make_params

STEPS = 200
CASES = [dict(), dict(lr=1e-3, weight_decay=0.1), dict(lr=1e-3, betas=(0.5, 0.9), maximize=True)]


def formula(params, grads_seq, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
    """The update as the issue and the paper state it, in float64."""
    b1, b2 = betas
    ps = [p.astype(np.float64) for p in params]
    ms = [np.zeros_like(p) for p in ps]
    for grads in grads_seq:
        for p, m, g in zip(ps, ms, grads):
            g = -g if maximize else g
            u = np.sign(b1 * m + (1 - b1) * g)
            p[...] = p * (1 - lr * weight_decay) - lr * u
            m[...] = b2 * m + (1 - b2) * g
    return ps, ms


@pytest.mark.parametrize("kw", CASES, ids=str)
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_lion_follows_its_formula(kw, impl):
    rng = np.random.default_rng(5)
    params = make_params(rng, [(7,), (31, 33), (2000,)], np.float64)
    grads_seq = [make_grads(rng, params) for _ in range(STEPS)]
    want_p, want_m = formula(params, grads_seq, **kw)
    cls = fusedoptim.Lion if impl == "native" else fusedoptim.reference.Lion
    opt = cls(params, **kw)
    for grads in grads_seq:
        opt.step(grads)
    for i, (p, w) in enumerate(zip(params, want_p)):
        # float64, random data: a sign tie (|beta1 m + (1-beta1) g| within rounding of 0)
        # has probability ~1e-16 per element and step; none occurs with this seed.
        assert_close(p, w, 1e-13, err_msg=f"param {i}")
        assert_close(opt.state[i]["exp_avg"], want_m[i], 1e-13, err_msg=f"exp_avg {i}")
    assert set(opt.state[0]) == {"exp_avg"}  # Lion keeps no step count


def test_lion_update_is_the_sign():
    """Every coordinate moves by exactly lr (no weight decay), whatever the gradient's scale."""
    rng = np.random.default_rng(1)
    p = rng.integers(-4096, 4096, 1000) / 1024.0  # multiples of 2^-10: p +- 1/8 is exact
    before = p.copy()
    opt = fusedoptim.Lion([p], lr=0.125)
    opt.step([rng.standard_normal(1000) * 10.0 ** rng.integers(-30, 30, 1000)])
    np.testing.assert_array_equal(np.abs(p - before), 0.125)


def test_lion_nan_gradient_stays_nan():
    p = np.ones(5)
    fusedoptim.Lion([p], lr=0.1).step([np.array([1.0, np.nan, -1.0, 0.0, 2.0])])
    assert np.isnan(p[1]) and not np.isnan(np.delete(p, 1)).any()
    np.testing.assert_array_equal(np.delete(p, 1), [0.9, 1.1, 1.0, 0.9])


@pytest.mark.parametrize("kw", CASES, ids=str)
def test_lion_matches_optax(kw):
    optax = pytest.importorskip("optax")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    rng = np.random.default_rng(9)
    params = make_params(rng, [(7,), (31, 33)], np.float64)
    b1, b2 = kw.get("betas", (0.9, 0.99))
    lr, wd = kw.get("lr", 1e-4), kw.get("weight_decay", 0.0)
    tx = optax.lion(learning_rate=lr, b1=b1, b2=b2, weight_decay=wd)
    jparams = [jnp.asarray(p) for p in params]
    state = tx.init(jparams)
    opt = fusedoptim.Lion(params, **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    for _ in range(STEPS):
        grads = make_grads(rng, params)
        updates, state = tx.update([jnp.asarray(sign * g) for g in grads], state, jparams)
        jparams = optax.apply_updates(jparams, updates)
        opt.step(grads)
    for p, jp in zip(params, jparams):
        # optax adds the decay to the update, lr (u + wd p): a rounding apart from
        # p (1 - lr wd) - lr u, per step.
        assert_close(p, np.asarray(jp), 1e-12)
