"""RAdam (torch.optim.RAdam)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("radam")


def radam_rect(step: int, beta2: float) -> float:
    """The variance rectification of step t, or 0.0 when rho_t <= 5 (not rectified)."""
    bias_correction2 = 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if not rho_t > 5.0:
        return 0.0
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


@kernel_scalars("radam", by_step=True)
def radam_scalars(step: int, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                  **_: Any) -> tuple[float, ...]:
    return _pack(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 bias_correction1=1 - beta1 ** step,
                 bias_correction2_sqrt=(1 - beta2 ** step) ** 0.5, rect=radam_rect(step, beta2))


def radam_work(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
               step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
               weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
               maximize: bool = False, names: Names = None) -> Work:
    lr, beta1, beta2, eps, weight_decay = C.adam_hparams(lr, beta1, beta2, eps, weight_decay,
                                                         decoupled_weight_decay)
    step = C.step_count("step", step)
    f = flags("radam", maximize=C.flag("maximize", maximize), weight_decay=weight_decay != 0,
              decoupled=C.flag("decoupled_weight_decay", decoupled_weight_decay))
    return (ID["radam"], f,
            radam_scalars(step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                          weight_decay=weight_decay),
            (params, grads, exp_avgs, exp_avg_sqs), names)


def radam(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
          step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
          maximize: bool = False) -> None:
    r"""RAdam, as torch.optim.RAdam; ``step`` is the number of this update (1 first).

    .. math::
        g &\leftarrow \pm g;\quad p \leftarrow p(1-\eta\lambda) \text{ (decoupled) or }
        g \leftarrow g + \lambda p \\
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1-\beta_2^t}, \qquad
        u = \frac{\eta\, m}{1-\beta_1^t} \\
        p &\leftarrow p - u\, \frac{\sqrt{1-\beta_2^t}}{\sqrt v + \epsilon}\, r_t
            \text{ if } \rho_t > 5, \text{ else } p \leftarrow p - u, \quad
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
    """
    run([radam_work(params, grads, exp_avgs, exp_avg_sqs, step, lr=lr, beta1=beta1, beta2=beta2,
                    eps=eps, weight_decay=weight_decay,
                    decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)])
