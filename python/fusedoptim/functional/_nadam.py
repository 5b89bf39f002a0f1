"""NAdam (torch.optim.NAdam)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("nadam")


def nadam_mu(step: int, beta1: float, momentum_decay: float) -> float:
    """The momentum coefficient of step t: beta1 (1 - 0.5 * 0.96^(t * momentum_decay))."""
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


def nadam_mu_product(mu_product: float, step: int, beta1: float, momentum_decay: float) -> float:
    """mu_product after step t, in float32 as torch keeps it (a float32 0-d tensor
    multiplied by the Python float mu_t, which torch casts to float32 first)."""
    return float(np.float32(mu_product) * np.float32(nadam_mu(step, beta1, momentum_decay)))


@kernel_scalars("nadam", by_step=True)
def nadam_scalars(step: int, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                  momentum_decay: float, mu_product: float, **_: Any) -> tuple[float, ...]:
    mu = nadam_mu(step, beta1, momentum_decay)
    mu_next = nadam_mu(step + 1, beta1, momentum_decay)
    product = nadam_mu_product(mu_product, step, beta1, momentum_decay)
    return _pack(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 bias_correction2=1 - beta2 ** step,
                 c_grad=-lr * (1.0 - mu) / (1.0 - product),
                 c_avg=(-lr * mu_next) / (1.0 - product * mu_next))


def nadam_work(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
               mu_product: float, step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
               eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
               decoupled_weight_decay: bool = False, maximize: bool = False,
               names: Names = None) -> Work:
    lr, beta1, beta2, eps, weight_decay = C.adam_hparams(lr, beta1, beta2, eps, weight_decay,
                                                         decoupled_weight_decay)
    momentum_decay = C.nonneg("momentum_decay", momentum_decay)
    mu_product = C.real("mu_product", mu_product)
    if not 0.0 <= mu_product <= 1.0:
        raise ValueError(f"mu_product: must be in [0, 1] (a product of momentum coefficients), "
                         f"got {mu_product!r}")
    step = C.step_count("step", step)
    f = flags("nadam", maximize=C.flag("maximize", maximize), weight_decay=weight_decay != 0,
              decoupled=C.flag("decoupled_weight_decay", decoupled_weight_decay))
    return (ID["nadam"], f,
            nadam_scalars(step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                          weight_decay=weight_decay, momentum_decay=momentum_decay,
                          mu_product=mu_product),
            (params, grads, exp_avgs, exp_avg_sqs), names)


def nadam(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
          mu_product: float, step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
          eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
          decoupled_weight_decay: bool = False, maximize: bool = False) -> float:
    r"""NAdam, as torch.optim.NAdam; ``step`` is the number of this update (1 first) and
    ``mu_product`` the product of the momentum coefficients of the steps before (1.0 at
    first). Returns the new ``mu_product`` (float32 arithmetic, as torch keeps it).

    .. math::
        \mu_t &= \beta_1 (1 - \tfrac12\, 0.96^{t\psi}), \quad
        \Pi_t = \Pi_{t-1} \mu_t \\
        g &\leftarrow \pm g;\quad p \leftarrow p(1-\eta\lambda) \text{ (decoupled) or }
        g \leftarrow g + \lambda p \\
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2,
        \qquad d = \sqrt{v / (1-\beta_2^t)} + \epsilon \\
        p &\leftarrow p - \eta\frac{1-\mu_t}{1-\Pi_t} \frac{g}{d}
             - \eta\frac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}} \frac{m}{d}

    with :math:`\psi` = ``momentum_decay``.
    """
    run([nadam_work(params, grads, exp_avgs, exp_avg_sqs, mu_product, step, lr=lr, beta1=beta1,
                    beta2=beta2, eps=eps, weight_decay=weight_decay,
                    momentum_decay=momentum_decay,
                    decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)])
    return nadam_mu_product(mu_product, step, beta1, momentum_decay)
