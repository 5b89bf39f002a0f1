"""Adafactor's bytes model and same-traffic roofline.

Its step is three native passes (functional.adafactor), so its roofline is not the
one-pass traffic kernel: it is the same accesses, over the same arrays, made by the
simplest native kernels (a dot product reads p and g, a scale by 1 reads and writes a
state array, a sum of squares reads, the traffic kernel reads p and g and writes p).

Accesses per tensor of N values (S: its row_var + col_var values):
  vector (variance, N):    pass 1 p, g, V read, V written; pass 3 p, g, V read, p written: 8N
  small matrix (a whole matrix in one work unit: at most 2^15 values, or fewer than 32 rows):
                           pass 1 p, g, R, C read, R, C written; pass 3 p, g, R, C read,
                           p written: 5N + 3S
  large matrix (row blocks): pass 1 p, g, R read, R written (C after: read, written);
                           pass 2 g, R, C read; pass 3 p, g, R, C read, p written: 6N + 4S
(the large matrices' column partials, n float64 per block, are left out: under 1% on
resnet50's fc).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _native

#: the work unit and the least rows of a row block (csrc/optimizers/adafactor_run.cpp)
CHUNK = 1 << 15
MIN_BLOCK_ROWS = 16


def _large(shape) -> bool:
    m, n = shape[-2], shape[-1]
    return m * n > CHUNK and min(-(-m * n // CHUNK), m // MIN_BLOCK_ROWS) > 1


def accesses(shapes) -> float:
    """Accesses (reads + writes, in values) per param value of one step."""
    total = values = 0
    for s in shapes:
        n = math.prod(s)
        values += n
        if n == 0:
            continue
        if len(s) < 2:
            total += 8 * n
            continue
        state = n // s[-1] + n // s[-2]
        total += 6 * n + 4 * state if _large(s) else 5 * n + 3 * state
    return total / max(values, 1)


def adafactor_states(opt) -> dict:
    """The state arrays by role: "vector" (variances), "small" and "large" (row_var and
    col_var of the two kinds of matrices), and "large_grads" is filled by the roofline."""
    out: dict = {"vector": [], "small": [], "large": []}
    for i, p in enumerate(p for g in opt.param_groups for p in g["params"]):
        st = opt.state[i]
        if p.ndim < 2:
            out["vector"].append(st["variance"])
        else:
            out["large" if _large(p.shape) else "small"] += [st["row_var"], st["col_var"]]
    return out


def state_bytes_per_param(opt) -> float:
    """Bytes of state arrays (row_var, col_var, variance) per param value."""
    ps = [p for g in opt.param_groups for p in g["params"]]
    st = adafactor_states(opt)
    nbytes = sum(a.nbytes for k in ("vector", "small", "large") for a in st[k])
    return nbytes / max(sum(p.size for p in ps), 1)


def adafactor_roofline(ps, gs, states, traffic):
    """The step's accesses over its own arrays (module docstring). ``traffic``: the
    traffic kernel over ps and gs (reads p, g, writes p, values unchanged)."""
    core = _native._core
    scale = _native.SPECS["scale"]["id"]
    large_g = [g for p, g in zip(ps, gs) if p.ndim >= 2 and _large(p.shape)]
    rw = states["vector"] + states["small"] + states["large"]
    small_state = states["small"] + states["vector"]

    def step():
        core.reduce(core.Reduction.DOT, ps, 1.0, None, gs)              # pass 1: p, g read
        _native.run([(scale, 0, (1.0,), [rw], None)])                   # state read + written
        if large_g:                                                      # pass 2
            core.reduce(core.Reduction.SUM_SQUARES, large_g + states["large"], 1.0)
            _native.run([(scale, 0, (1.0,), [states["large"]], None)])   # C after pass 1
        traffic()                                                        # pass 3: p, g, p
        core.reduce(core.Reduction.SUM_SQUARES, small_state + states["large"], 1.0)

    step.arrays = traffic.arrays + rw
    return step


def state_summary(shapes, dtype=np.float32) -> dict:
    """Adafactor's state bytes per param on these shapes, measured from the state arrays
    after one step, against Adam's (two buffers of the param's dtype)."""
    import fusedoptim

    ps = [np.zeros(s, dtype) for s in shapes]
    opt = fusedoptim.Adafactor(ps)
    opt.step([np.zeros(s, dtype) for s in shapes])
    adam = fusedoptim.Adam(ps)
    adam.step([np.zeros(s, dtype) for s in shapes])
    adam_bytes = sum(v.nbytes for i in adam.state for k, v in adam.state[i].items() if k != "step")
    return {"adafactor_bytes_per_param": state_bytes_per_param(opt),
            "adam_bytes_per_param": adam_bytes / sum(p.size for p in ps),
            "accesses_per_value": accesses(shapes)}
