"""The ZeroRedundancyOptimizer cases: optimizer, options, groups, and how lr changes
(a torch-style scheduler or a callable lr). Shared by zero_equivalence.py (which saves a
checkpoint) and zero_resume.py (which loads it on another number of ranks)."""
import numpy as np
from _common import SHAPES

import fusedoptim as fo


def groups(ps, case):
    """Two param groups with their own options (the second also has weight decay)."""
    _, kw, lr_mode = CASES[case]
    lr = decay_over_t if lr_mode == "callable" else kw["lr"] * 3
    return [{"params": ps[:3]}, {"params": ps[3:], "lr": lr, "weight_decay": 0.01}]


def halve_every_40(step):
    return 2e-3 * 0.5 ** (step // 40)


def decay_over_t(step):  # module-level, so a state_dict holding it pickles
    return 3e-3 / (1 + step)


#: name -> (class, defaults, "scheduler" | "callable" | None)
CASES = {
    "adam": (fo.Adam, dict(lr=1e-3, betas=(0.8, 0.99)), "scheduler"),
    "adamw": (fo.AdamW, dict(lr=halve_every_40, amsgrad=True), "callable"),
    "sgd": (fo.SGD, dict(lr=0.01, momentum=0.9), "scheduler"),
    "nadam": (fo.NAdam, dict(lr=2e-3), None),  # per-param 0-d state (mu_product)
}


def make(case, ps, zero=None):
    """The optimizer of ``case`` over ``ps`` (ZeroRedundancyOptimizer when ``zero`` is the
    class), and its scheduler or None."""
    cls, kw, lr_mode = CASES[case]
    gs = groups(ps, case)
    opt = zero(gs, cls, **kw) if zero is not None else cls(gs, **kw)
    sched = fo.lr_scheduler.StepLR(opt, step_size=30, gamma=0.5) if lr_mode == "scheduler" else None
    return opt, sched


def state_bytes(state_view, cls):
    """Bytes of the per-element state buffers (not the step count or 0-d scalar state)."""
    names = set(cls._buffer_names) - set(cls._scalar_state)
    return sum(v.nbytes for i in state_view for k, v in state_view[i].items() if k in names)


__all__ = ["CASES", "SHAPES", "make", "state_bytes"]
