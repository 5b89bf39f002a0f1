"""The distributed bench's cost model (pure functions, no MPI): the ring formulas, the
fits recovering known parameters from synthetic times, and the two schemes' step."""
import math

import numpy as np
import pytest

from fusedoptim.bench import cost_model as cm

NET = cm.Network(alpha=5e-6, beta=12.5e9)


def test_network_of_gbit():
    net = cm.Network.of(100, 5)
    assert net.alpha == pytest.approx(5e-6) and net.beta == pytest.approx(12.5e9)
    assert "100 Gb/s" in net.describe()


@pytest.mark.parametrize("n", [1, 2, 3, 8, 1024])
def test_ring_formulas(n):
    m = 4e9
    ar = cm.collective_seconds("allreduce", n, m, NET)
    assert ar == pytest.approx(2 * (n - 1) * NET.alpha + 2 * (n - 1) / n * m / NET.beta)
    rs = cm.collective_seconds("reduce_scatter", n, m, NET)
    ag = cm.collective_seconds("all_gather", n, m, NET)
    assert rs == pytest.approx((n - 1) * NET.alpha + (n - 1) / n * m / NET.beta)
    # ZeRO-1's two collectives move what one allreduce moves
    assert rs + ag == pytest.approx(ar)
    if n == 1:
        assert ar == 0


def test_bad_kind_and_ranks():
    with pytest.raises(ValueError, match="kind"):
        cm.coefficients("broadcast", 2, 1.0)
    with pytest.raises(ValueError, match="n:"):
        cm.coefficients("allreduce", 0, 1.0)


def test_fit_recovers_alpha_beta_from_noisy_times():
    rng = np.random.default_rng(7)
    true = cm.Network(alpha=float(rng.uniform(1e-6, 2e-5)), beta=float(rng.uniform(1e9, 2e10)))
    samples = []
    for n in (2, 4):
        for kind in cm.COLLECTIVES:
            for m in (1e3, 1e4, 1e5, 1e6, 1e7, 1e8):
                t = cm.collective_seconds(kind, n, m, true) * (1 + rng.normal(0, 0.01))
                samples.append((kind, n, m, t))
    fit = cm.fit_network(samples)
    # 1% noise on every time: both parameters within a few percent
    assert fit.alpha == pytest.approx(true.alpha, rel=0.05)
    assert fit.beta == pytest.approx(true.beta, rel=0.05)


def test_fit_clamps_a_negative_alpha_to_zero():
    # pure bandwidth times, shaved a little at small sizes: the free fit wants alpha < 0
    samples = [("allreduce", 2, m, m / 1e9 * (0.9 if m < 1e5 else 1.0)) for m in (1e3, 1e4, 1e6, 1e8)]
    fit = cm.fit_network(samples)
    assert fit.alpha == 0.0 and fit.beta > 0


def test_fit_needs_two_distinct_points():
    with pytest.raises(ValueError, match="at least two"):
        cm.fit_network([("allreduce", 2, 1e6, 1e-3), ("allreduce", 1, 1e3, 1e-5)])


def test_fit_bandwidth():
    bw = cm.fit_bandwidth([(1e9, 0.1), (2e9, 0.2), (5e8, 0.05)])
    assert bw == pytest.approx(1e10)
    with pytest.raises(ValueError):
        cm.fit_bandwidth([(0.0, 1.0)])


def test_step_models_schemes():
    params, n, bw = 10**9, 64, 1e10
    m = cm.step_models(params, n, 4, 28.0, 2, NET, bw)
    dp, zero = m["dp"], m["zero1"]
    assert zero.comm == pytest.approx(dp.comm)
    assert dp.update == pytest.approx(params * 28 / bw)
    assert zero.update == pytest.approx(math.ceil(params / n) * 28 / bw)
    assert dp.state_bytes == 8 * params
    assert zero.state_bytes == 8 * math.ceil(params / n)
    assert dp.memory_bytes == 16 * params
    assert zero.total < dp.total


def test_model_rows():
    rows = cm.model_rows(25_557_032, [8, 1024], 4, 28.0, 2, NET, 1e10)
    assert [r["ranks"] for r in rows] == [8, 1024]
    for r in rows:
        assert r["zero1_state_bytes"] * r["ranks"] == pytest.approx(r["dp_state_bytes"], rel=1e-4)
        assert r["dp_total"] == pytest.approx(r["dp_comm"] + r["dp_update"])
