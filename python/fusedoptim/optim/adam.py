from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import Betas, BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class Adam(Optimizer):
    r"""Adam with bias correction, as torch.optim.Adam (AMSGrad with ``amsgrad=True``).

    .. math::
        g_t &\leftarrow \pm g_t; \quad g_t \leftarrow g_t + \lambda\theta_{t-1}
            \text{ (or } \theta_{t-1} \leftarrow \theta_{t-1}(1-\eta\lambda)
            \text{ with decoupled\_weight\_decay)} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ (amsgrad) or } v_t \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}
            \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Same arithmetic as torch's single-tensor implementation: eps is added after the
    bias-corrected square root, the first moment uses torch's lerp.
    """

    _buffer_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params: Params, lr: LR = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        betas = C.pair(label("betas"), group["betas"])
        return dict(lr=C.nonneg(label("lr"), group["lr"]),
                    beta1=C.in_unit_interval(label("betas") + "[0]", betas[0]),
                    beta2=C.in_unit_interval(label("betas") + "[1]", betas[1]),
                    eps=C.nonneg(label("eps"), group["eps"]),
                    weight_decay=C.nonneg(label("weight_decay"), group["weight_decay"]),
                    amsgrad=C.flag(label("amsgrad"), group["amsgrad"]),
                    maximize=C.flag(label("maximize"), group["maximize"]),
                    decoupled_weight_decay=C.flag(label("decoupled_weight_decay"),
                                                  group["decoupled_weight_decay"]))

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        out = [("exp_avg", self._zeros_like), ("exp_avg_sq", self._zeros_like)]
        if h["amsgrad"]:
            out.append(("max_exp_avg_sq", self._zeros_like))
        return out

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], step: int, names: list[str]) -> Call:
        return ("adam", (params, grads, bufs["exp_avg"], bufs["exp_avg_sq"],
                         bufs.get("max_exp_avg_sq"), step), dict(h, names=names))


class AdamW(Adam):
    r"""AdamW, as torch.optim.AdamW: Adam with decoupled weight decay,
    :math:`\theta \leftarrow \theta (1 - \eta\lambda)` before the Adam step (default 1e-2)."""

    def __init__(self, params: Params, lr: LR = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        Optimizer.__init__(self, params, dict(lr=lr, betas=betas, eps=eps,
                                              weight_decay=weight_decay, amsgrad=amsgrad,
                                              maximize=maximize, decoupled_weight_decay=True),
                                 state_dtype=state_dtype, master_weights=master_weights,
                                 stochastic_rounding=stochastic_rounding)
