"""ASGD, averaged SGD (torch.optim.ASGD)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("asgd")


def asgd_next(step: int, lr: float, lambd: float, alpha: float, t0: float) -> tuple[float, float]:
    """(eta, mu) after step t, rounded to float32 as torch keeps them (0-d float32 tensors
    set from Python floats): eta = lr / (1 + lambd lr t)^alpha, mu = 1 / max(1, t - t0)."""
    try:
        eta = lr / ((1 + lambd * lr * step) ** alpha)
    except OverflowError:  # the power beyond the float range: eta underflows to 0
        eta = 0.0
    mu = 1 / max(1, step - t0)
    return float(np.float32(eta)), float(np.float32(mu))


@kernel_scalars("asgd", by_step=True)
def asgd_scalars(step: int | None, eta: float, lambd: float, mu: float, weight_decay: float,
                 lr: float | None = None, alpha: float | None = None, t0: float | None = None,
                 **_: Any) -> tuple[float, ...]:
    # lr, alpha and t0 set the next eta and mu, not this step's scalars: parameters here so
    # that a reused plan (optim/_fast.py) has them when it advances the state.
    return _pack(eta=eta, lambd=lambd, mu=mu, weight_decay=weight_decay)


def asgd_work(params: ArrayList, grads: ArrayList, axs: ArrayList, step: int, *, eta: float,
              mu: float, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
              t0: float = 1e6, weight_decay: float = 0.0, maximize: bool = False,
              names: Names = None) -> Work:
    eta = C.nonneg("eta", eta)
    mu = C.nonneg("mu", mu)
    C.nonneg("lr", lr)
    lambd = C.nonneg("lambd", lambd)
    C.real("alpha", alpha)
    C.real("t0", t0)
    C.step_count("step", step)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    if not math.isfinite(1.0 - lambd * eta):
        raise ValueError(f"lambd: 1 - lambd * eta = 1 - {lambd} * {eta} is not finite")
    f = flags("asgd", maximize=C.flag("maximize", maximize), weight_decay=weight_decay != 0,
              average=mu != 1)
    return (ID["asgd"], f, asgd_scalars(None, eta=eta, lambd=lambd, mu=mu,
                                         weight_decay=weight_decay),
            (params, grads, axs), names)


def asgd(params: ArrayList, grads: ArrayList, axs: ArrayList, step: int, *, eta: float, mu: float,
         lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
         weight_decay: float = 0.0, maximize: bool = False) -> tuple[float, float]:
    r"""ASGD, as torch.optim.ASGD; ``step`` is the number of this update (1 first), ``eta``
    and ``mu`` the values left by the step before (``lr`` and 1 at first; torch's state).
    ``axs`` (the averages) start at zero. Returns ``(eta, mu)`` for the next step.

    .. math::
        g &\leftarrow \pm g + \lambda_{wd} p, \qquad
        p \leftarrow p (1 - \lambda \eta) - \eta g \\
        \bar p &\leftarrow \bar p + \mu (p - \bar p) \ (\mu \ne 1), \text{ else } \bar p \leftarrow p \\
        \eta &\leftarrow \frac{\eta_0}{(1 + \lambda \eta_0 t)^\alpha}, \qquad
        \mu \leftarrow \frac{1}{\max(1, t - t_0)}
    """
    run([asgd_work(params, grads, axs, step, eta=eta, mu=mu, lr=lr, lambd=lambd, alpha=alpha,
                   t0=t0, weight_decay=weight_decay, maximize=maximize)])
    return asgd_next(step, lr, lambd, alpha, t0)
