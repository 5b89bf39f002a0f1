"""Adadelta (torch.optim.Adadelta)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("adadelta")


@kernel_scalars("adadelta", by_step=False)
def adadelta_scalars(step: int | None, lr: float, rho: float, eps: float, weight_decay: float,
                     **_: Any) -> tuple[float, ...]:
    return _pack(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)


def rho_value(name: str, value: float) -> float:
    """Adadelta's decay rate, in [0, 1] as torch accepts it."""
    v = C.real(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: must be in [0, 1], got {value!r}")
    return v


def adadelta_work(params: ArrayList, grads: ArrayList, square_avgs: ArrayList,
                  acc_deltas: ArrayList, *, lr: float, rho: float = 0.9, eps: float = 1e-6,
                  weight_decay: float = 0.0, maximize: bool = False, names: Names = None) -> Work:
    lr = C.nonneg("lr", lr)
    rho = rho_value("rho", rho)
    eps = C.nonneg("eps", eps)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    f = flags("adadelta", maximize=C.flag("maximize", maximize), weight_decay=weight_decay != 0)
    return (ID["adadelta"], f,
            adadelta_scalars(None, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay),
            (params, grads, square_avgs, acc_deltas), names)


def adadelta(params: ArrayList, grads: ArrayList, square_avgs: ArrayList, acc_deltas: ArrayList, *,
             lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
             maximize: bool = False) -> None:
    r"""Adadelta, as torch.optim.Adadelta. ``square_avgs`` and ``acc_deltas`` start at zero.

    .. math::
        g &\leftarrow \pm g + \lambda p, \qquad v \leftarrow \rho v + (1-\rho) g^2 \\
        \Delta &= \frac{\sqrt{a + \epsilon}}{\sqrt{v + \epsilon}}\, g, \qquad
        a \leftarrow \rho a + (1-\rho) \Delta^2, \qquad p \leftarrow p - \eta \Delta
    """
    run([adadelta_work(params, grads, square_avgs, acc_deltas, lr=lr, rho=rho, eps=eps,
                       weight_decay=weight_decay, maximize=maximize)])
