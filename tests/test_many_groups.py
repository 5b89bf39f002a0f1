"""No fixed cap on the launches of one step: hundreds of param groups (layer-wise
learning rates), and params that each have their own step count (one launch per
distinct count), step like the reference, and keep stepping."""
import numpy as np

import fusedoptim
from registry import make_grads, make_params


def _same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_65_groups_step():
    params = [np.zeros(2) for _ in range(65)]
    opt = fusedoptim.Adam([{"params": [p]} for p in params])
    opt.step([np.ones(2)] * 65)
    assert all(np.all(p < 0) for p in params)


def test_a_thousand_groups_each_with_its_own_lr():
    rng = np.random.default_rng(40)
    init = make_params(rng, [(3,), (2, 2)] * 500, np.float64)
    lrs = rng.uniform(1e-3, 1e-1, len(init))
    runs = []
    for cls in (fusedoptim.Adam, fusedoptim.reference.Adam):
        ps = [p.copy() for p in init]
        opt = cls([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)], weight_decay=0.01)
        runs.append((opt, ps))
    for _ in range(4):  # the first steps take the general path, the later ones the plan
        g = make_grads(rng, init)
        for opt, _ in runs:
            opt.step(g)
    _same(runs[0][1], runs[1][1])
    assert runs[0][0].state[999]["step"] == 4


def test_two_hundred_params_each_with_its_own_step_count():
    """Param i first gets a grad at step i (None before): up to 200 launches a step."""
    rng = np.random.default_rng(41)
    n = 200
    init = make_params(rng, [(3,)] * n, np.float64)
    runs = []
    for cls in (fusedoptim.Adam, fusedoptim.reference.Adam):
        ps = [p.copy() for p in init]
        runs.append((cls(ps, lr=0.01), ps))
    for step in range(n + 5):
        g = make_grads(rng, init)
        for i in range(step + 1, n):
            g[i] = None
        for opt, _ in runs:
            opt.step(g)
    _same(runs[0][1], runs[1][1])
    opt = runs[0][0]
    assert [opt.state[i]["step"] for i in (0, 1, n - 1)] == [n + 5, n + 4, 6]
    for i in range(n):
        np.testing.assert_allclose(opt.state[i]["exp_avg"], runs[1][0].state[i]["exp_avg"],
                                   rtol=1e-12, atol=1e-12)
