"""Native kernels against the NumPy reference, for every optimizer and option of the
registry, float32/float64, 1 and 2 threads, every ISA path this CPU supports.

Tolerances (see registry.assert_close): float64 1e-12, float32 1e-5, relative
to each array's largest magnitude. The paths differ only by FMA contraction within
an element, a few ulp per step, which momentum carries along the trajectory. Lion's
params may also differ by a few lr where its sign decision was a tie within rounding
(registry.sign_tie_slack); its state, which no sign enters, may not.
"""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import _native
from registry import (CONFIGS, IDS, SHAPES, all_state, assert_close, assert_close_up_to_ties,
                      make_grads, make_params, shapes_for, sign_tie_slack)

STEPS = 50
TOL = {np.float64: 1e-12, np.float32: 1e-5}
ISAS = fusedoptim.build_info()["isa_supported"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_native_matches_reference(cfg, dtype, restore_runtime):
    name, kw = cfg
    rng = np.random.default_rng(1234)
    init = make_params(rng, shapes_for(name, SHAPES), dtype)
    grads = [make_grads(rng, init) for _ in range(STEPS)]

    ref_params = [p.copy() for p in init]
    ref = getattr(fusedoptim.reference, name)(ref_params, **kw)
    for g in grads:
        ref.step(g)

    runs = {}
    for isa in ISAS:
        for threads in (1, 2):
            _native.set_isa(isa)
            fusedoptim.set_num_threads(threads)
            params = [p.copy() for p in init]
            opt = getattr(fusedoptim, name)(params, **kw)
            for g in grads:
                opt.step(g)
            runs[isa, threads] = (params, all_state(opt))
            for i, (a, b) in enumerate(zip(params, ref_params)):
                assert_close_up_to_ties(a, b, TOL[dtype], sign_tie_slack(cfg),
                                        err_msg=f"{isa} x{threads} param {i}")
            ref_state = all_state(ref)
            assert runs[isa, threads][1].keys() == ref_state.keys()
            for key, value in ref_state.items():
                assert_close(runs[isa, threads][1][key], value, TOL[dtype], err_msg=f"{isa} x{threads} state {key}")
        # Same ISA: bit-identical for any thread count.
        for a, b in zip(runs[isa, 1][0], runs[isa, 2][0]):
            np.testing.assert_array_equal(a, b)
