from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks as C
from .. import functional as F
from .._typing import Betas, BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class NAdam(Optimizer):
    r"""NAdam, Adam with Nesterov momentum, as torch.optim.NAdam.

    .. math::
        \mu_t &= \beta_1 (1 - \tfrac12\, 0.96^{t\psi}), \qquad \Pi_t = \Pi_{t-1}\mu_t \\
        g_t &\leftarrow \pm g_t + \lambda\theta_{t-1}
            \text{ (or } \theta_{t-1} \leftarrow \theta_{t-1}(1-\eta\lambda)
            \text{ with decoupled\_weight\_decay)} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        d_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\frac{1-\mu_t}{1-\Pi_t}\frac{g_t}{d_t}
            - \eta\frac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\frac{m_t}{d_t}

    with :math:`\psi` = ``momentum_decay``. The state keeps ``mu_product`` (:math:`\Pi_t`)
    per param as torch does: a 0-d float32 array, multiplied in float32.
    """

    _buffer_names = ("mu_product", "exp_avg", "exp_avg_sq")
    _scalar_state = ("mu_product",)

    def __init__(self, params: Params, lr: LR = 2e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        return dict(C.checked(group, label, lr=C.nonneg, eps=C.nonneg, weight_decay=C.nonneg,
                              momentum_decay=C.nonneg, decoupled_weight_decay=C.flag,
                              maximize=C.flag), beta1=beta1, beta2=beta2)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("mu_product", lambda p: np.ones((), np.float32)),
                ("exp_avg", self._zeros_like), ("exp_avg_sq", self._zeros_like))

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        step, mu_product = key
        return ("nadam", (params, grads, bufs["exp_avg"], bufs["exp_avg_sq"], mu_product, step),
                dict(h, names=names))

    def _next_scalar_state(self, h: Hyper, step: int,
                           values: list[float]) -> tuple[float, ...]:
        return (F.nadam_mu_product(values[0], step, h["beta1"], h["momentum_decay"]),)
