"""Property tests: random tensor lists, random hyperparameters, native against the
NumPy reference (float64, rtol 1e-12 of each array's scale: see registry)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fusedoptim
from registry import CONFIGS, assert_close, shapes_for

shapes = st.lists(st.integers(0, 300).map(lambda n: (n,)), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(cfg=st.sampled_from(CONFIGS), shape_list=shapes, steps=st.integers(1, 4),
       lr_scale=st.floats(0.1, 10.0), seed=st.integers(0, 2**31 - 1))
def test_random_lists_match_reference(cfg, shape_list, steps, lr_scale, seed):
    name, kw = cfg
    kw = dict(kw, lr=kw.get("lr", 1e-2) * lr_scale)
    rng = np.random.default_rng(seed)
    shape_list = shapes_for(name, shape_list)
    params = [rng.standard_normal(s) for s in shape_list]
    copies = [p.copy() for p in params]
    opt = getattr(fusedoptim, name)(params, **kw)
    ref = getattr(fusedoptim.reference, name)(copies, **kw)
    for _ in range(steps):
        grads = [rng.standard_normal(s) for s in shape_list]
        opt.step(grads)
        ref.step(grads)
    for a, b in zip(params, copies):
        assert_close(a, b, 1e-12)
