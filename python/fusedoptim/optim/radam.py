from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import Betas, BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class RAdam(Optimizer):
    r"""RAdam, Adam with the variance rectified, as torch.optim.RAdam.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda\theta_{t-1}
            \text{ (or } \theta_{t-1} \leftarrow \theta_{t-1}(1-\eta\lambda)
            \text{ with decoupled\_weight\_decay)} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t}, \qquad
        u_t = \frac{\eta\, m_t}{1-\beta_1^t} \\
        \theta_t &\leftarrow \theta_{t-1} - u_t \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon} r_t
            \ \text{ if } \rho_t > 5, \text{ else } \theta_{t-1} - u_t \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
    """

    _buffer_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Params, lr: LR = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False,
                 *, maximize: bool = False, state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        return dict(C.checked(group, label, lr=C.nonneg, eps=C.nonneg, weight_decay=C.nonneg,
                              decoupled_weight_decay=C.flag, maximize=C.flag),
                    beta1=beta1, beta2=beta2)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("exp_avg", self._zeros_like), ("exp_avg_sq", self._zeros_like))

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], step: int, names: list[str]) -> Call:
        return ("radam", (params, grads, bufs["exp_avg"], bufs["exp_avg_sq"], step),
                dict(h, names=names))
