"""Lion (Chen et al. 2023; optax.lion)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("lion")


@kernel_scalars("lion", by_step=False)
def lion_scalars(step: int | None, lr: float, beta1: float, beta2: float, weight_decay: float,
                 **_: Any) -> tuple[float, ...]:
    return _pack(lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay)


def lion_work(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, *, lr: float,
              beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0,
              maximize: bool = False, names: Names = None) -> Work:
    lr = C.nonneg("lr", lr)
    beta1 = C.in_unit_interval("beta1", beta1)
    beta2 = C.in_unit_interval("beta2", beta2)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    C.decoupled_decay(lr, weight_decay)
    f = flags("lion", maximize=C.flag("maximize", maximize), weight_decay=weight_decay != 0)
    return (ID["lion"], f,
            lion_scalars(None, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay),
            (params, grads, exp_avgs), names)


def lion(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, *, lr: float, beta1: float = 0.9,
         beta2: float = 0.99, weight_decay: float = 0.0, maximize: bool = False) -> None:
    r"""Lion, the evolved sign momentum of Chen et al. 2023, as optax.lion (torch has none).
    ``exp_avgs`` start at zero.

    .. math::
        g &\leftarrow \pm g, \qquad u = \operatorname{sign}(\beta_1 m + (1-\beta_1) g) \\
        p &\leftarrow p (1 - \eta\lambda) - \eta u, \qquad m \leftarrow \beta_2 m + (1-\beta_2) g

    The sign of 0 is 0; a NaN stays NaN.
    """
    run([lion_work(params, grads, exp_avgs, lr=lr, beta1=beta1, beta2=beta2,
                   weight_decay=weight_decay, maximize=maximize)])
