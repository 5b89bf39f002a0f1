"""Data-parallel SGD (Nesterov) and Adam with allreduce_grads_ equal a single process
stepping with the averaged grads; repeated runs are bitwise identical; broadcast_ makes
every rank's params rank 0's."""
import numpy as np
from _common import COMM, RANK, SIZE, SHAPES, averaged, close, done, grads_of, params

import fusedoptim as fo
from fusedoptim import distributed as D

STEPS = 200


def laid_out(values, dtype, layout):
    """``values`` as they are, or copied into views of one buffer (flat_params)."""
    if layout != "flat":
        return values
    arrays = D.flat_params(SHAPES, dtype)
    for a, v in zip(arrays, values):
        a[...] = v
    return arrays


def run(cls, kw, dtype, layout, bucket_bytes):
    # Every rank starts from its own values; broadcast_ makes them rank 0's.
    ps = laid_out(params(seed=100 + RANK, dtype=dtype), dtype, layout)
    D.broadcast_(ps)
    close(ps, params(seed=100, dtype=dtype), dtype, "broadcast params")
    ref = [p.copy() for p in ps]
    opt, single = cls(ps, **kw), cls(ref, **kw)
    for t in range(STEPS):
        gs = laid_out(grads_of(RANK, t, dtype), dtype, layout)
        D.allreduce_grads_(gs, bucket_bytes=bucket_bytes)
        avg = averaged(t, dtype)
        if t % 50 == 0:
            close(gs, avg, dtype, f"averaged grads at step {t}")
        opt.step(gs)
        single.step(avg)
    close(ps, ref, dtype, f"{cls.__name__} {layout} params after {STEPS} steps")
    # Every rank holds the same params, bitwise.
    for i, p in enumerate(ps):
        assert all(np.array_equal(p, q) for q in COMM.allgather(p)), f"param {i} differs"
    return [p.copy() for p in ps]


for cls, kw in ((fo.SGD, dict(lr=0.01, momentum=0.9, nesterov=True)), (fo.Adam, dict(lr=1e-3))):
    for dtype in (np.float64, np.float32):
        for layout, bucket in (("separate", 25 * 2**20), ("separate", 600), ("flat", 600)):
            first = run(cls, kw, dtype, layout, bucket)
            again = run(cls, kw, dtype, layout, bucket)
            for i, (a, b) in enumerate(zip(first, again)):
                assert np.array_equal(a, b), f"{cls.__name__} {layout}: rerun differs at param {i}"

# op="sum" and dict grads
g = {"w": np.full((3, 2), RANK + 1.0), "b": np.full(5, 2.0 * RANK)}
D.allreduce_grads_(g, op="sum")
assert np.all(g["w"] == SIZE * (SIZE + 1) / 2) and np.all(g["b"] == SIZE * (SIZE - 1)), g
done("data_parallel")
