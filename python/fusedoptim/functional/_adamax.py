"""Adamax (torch.optim.Adamax)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._adam import finite_step_size
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("adamax")


@kernel_scalars("adamax", by_step=True)
def adamax_scalars(step: int, lr: float, beta1: float, beta2: float, eps: float,
                   weight_decay: float, **_: Any) -> tuple[float, ...]:
    return _pack(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 clr=finite_step_size(lr, 1 - beta1 ** step, step))


def adamax_work(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_infs: ArrayList,
                step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                eps: float = 1e-8, weight_decay: float = 0.0, maximize: bool = False,
                names: Names = None) -> Work:
    lr = C.nonneg("lr", lr)
    beta1 = C.in_unit_interval("beta1", beta1)
    beta2 = C.in_unit_interval("beta2", beta2)
    eps = C.nonneg("eps", eps)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    step = C.step_count("step", step)
    f = flags("adamax", maximize=C.flag("maximize", maximize), weight_decay=weight_decay != 0)
    return (ID["adamax"], f,
            adamax_scalars(step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                           weight_decay=weight_decay),
            (params, grads, exp_avgs, exp_infs), names)


def adamax(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_infs: ArrayList, step: int,
           *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
           weight_decay: float = 0.0, maximize: bool = False) -> None:
    r"""Adamax, as torch.optim.Adamax; ``step`` is the number of this update (1 first).

    .. math::
        g &\leftarrow \pm g + \lambda p, \qquad m \leftarrow \beta_1 m + (1-\beta_1) g \\
        u &\leftarrow \max(\beta_2 u, |g| + \epsilon), \qquad
        p \leftarrow p - \frac{\eta}{1-\beta_1^t}\, \frac{m}{u}

    ``exp_avgs`` and ``exp_infs`` start at zero; the first moment uses torch's lerp.
    """
    run([adamax_work(params, grads, exp_avgs, exp_infs, step, lr=lr, beta1=beta1, beta2=beta2,
                     eps=eps, weight_decay=weight_decay, maximize=maximize)])
