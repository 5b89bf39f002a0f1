"""Results are bitwise identical for every thread count, whatever the tensor sizes
(many small tensors packed into one chunk, a large one cut across threads)."""
import numpy as np
import pytest

import fusedoptim
from registry import CONFIGS, IDS, make_grads, make_params

SHAPES = [(3,)] * 300 + [(100003,), (0,), (40000,), (1 << 18,)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_bitwise_identical_across_thread_counts(cfg, restore_runtime):
    name, kw = cfg
    rng = np.random.default_rng(21)
    init = make_params(rng, SHAPES, np.float32)
    grads = [make_grads(rng, init) for _ in range(5)]
    results = []
    for threads in (1, 2, 3, 5):
        fusedoptim.set_num_threads(threads)
        params = [p.copy() for p in init]
        opt = getattr(fusedoptim, name)(params, **kw)
        for g in grads:
            opt.step(g)
        results.append(params)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    # And the update did something: every non-empty param moved.
    for i, (a, b) in enumerate(zip(results[0], init)):
        assert a.size == 0 or not np.array_equal(a, b), f"param {i} did not move"


def test_thread_count_api(restore_runtime):
    fusedoptim.set_num_threads(3)
    assert fusedoptim.get_num_threads() == 3
    assert fusedoptim.build_info()["num_threads"] == 3
    for bad in (0, -1):
        with pytest.raises(ValueError, match="thread"):
            fusedoptim.set_num_threads(bad)
    with pytest.raises(TypeError):
        fusedoptim.set_num_threads(1.5)
