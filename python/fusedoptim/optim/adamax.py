from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import Betas, BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class Adamax(Optimizer):
    r"""Adamax, Adam with the infinity norm, as torch.optim.Adamax.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda\theta_{t-1}, \qquad
        m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        u_t &\leftarrow \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \qquad
        \theta_t \leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t}
    """

    _buffer_names = ("exp_avg", "exp_inf")

    def __init__(self, params: Params, lr: LR = 2e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        return dict(C.checked(group, label, lr=C.nonneg, eps=C.nonneg, weight_decay=C.nonneg,
                              maximize=C.flag), beta1=beta1, beta2=beta2)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("exp_avg", self._zeros_like), ("exp_inf", self._zeros_like))

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], step: int, names: list[str]) -> Call:
        return ("adamax", (params, grads, bufs["exp_avg"], bufs["exp_inf"], step),
                dict(h, names=names))
