"""Adam, AdamW and AMSGrad (torch.optim.Adam / AdamW)."""
from __future__ import annotations

import math
from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("adam")


def finite_step_size(lr: float, bias_correction1: float, step: int) -> float:
    """lr / (1 - beta1**step), refused when not finite (a finite lr near the float max)."""
    step_size = lr / bias_correction1
    if not math.isfinite(step_size):
        raise ValueError(f"lr: lr / (1 - beta1**{step}) = {lr} / {bias_correction1} is not "
                         "finite")
    return step_size


@kernel_scalars("adam", by_step=True)
def adam_scalars(step: int, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                 **_: Any) -> tuple[float, ...]:
    return _pack(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 step_size=finite_step_size(lr, 1 - beta1 ** step, step),
                 bias_correction2_sqrt=(1 - beta2 ** step) ** 0.5)


def adam_work(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
              max_exp_avg_sqs: ArrayList | None, step: int, *, lr: float, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
              amsgrad: bool = False, maximize: bool = False, decoupled_weight_decay: bool = False,
              names: Names = None) -> Work:
    lr, beta1, beta2, eps, weight_decay = C.adam_hparams(lr, beta1, beta2, eps, weight_decay,
                                                         decoupled_weight_decay)
    step = C.step_count("step", step)
    f = flags("adam", maximize=maximize, weight_decay=weight_decay != 0,
                   decoupled=decoupled_weight_decay, amsgrad=amsgrad)
    return (ID["adam"], f,
            adam_scalars(step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay),
            (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None), names)


def adam(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
         max_exp_avg_sqs: ArrayList | None, step: int, *, lr: float, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
         maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
    r"""Adam (bias-corrected), as torch.optim.Adam; AdamW with ``decoupled_weight_decay``.
    ``step`` is the number of this update, t = 1 for the first.

    .. math::
        g &\leftarrow \pm g; \quad p \leftarrow p(1-\eta\lambda) \text{ (decoupled) or }
        g \leftarrow g + \lambda p \\
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \hat v &= \max(\hat v, v) \text{ (amsgrad) or } v \\
        p &\leftarrow p - \frac{\eta}{1-\beta_1^t}\,
        \frac{m}{\sqrt{\hat v}/\sqrt{1-\beta_2^t} + \epsilon}

    The first moment is updated with torch's lerp, which is the same EMA rounded alike.
    ``max_exp_avg_sqs`` is used only with amsgrad (may be None otherwise).
    """
    run([adam_work(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr=lr,
                           beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                           amsgrad=amsgrad, maximize=maximize,
                           decoupled_weight_decay=decoupled_weight_decay)])


def adamw(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
          max_exp_avg_sqs: ArrayList | None, step: int, *, lr: float, beta1: float = 0.9,
          beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2,
          amsgrad: bool = False, maximize: bool = False) -> None:
    """AdamW: :func:`adam` with decoupled weight decay, p <- p * (1 - lr * weight_decay)."""
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr=lr, beta1=beta1,
         beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
         decoupled_weight_decay=True)
