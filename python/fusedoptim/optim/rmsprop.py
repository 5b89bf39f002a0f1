from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop, as torch.optim.RMSprop.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda \theta_{t-1}, \qquad
        v_t \leftarrow \alpha v_{t-1} + (1-\alpha) g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1-\alpha) g_t, \quad
        a_t = \sqrt{v_t - \bar g_t^2} + \epsilon \text{ (centered), else } \sqrt{v_t} + \epsilon \\
        b_t &\leftarrow \mu b_{t-1} + g_t / a_t, \ \theta_t \leftarrow \theta_{t-1} - \eta b_t
        \ (\mu > 0), \text{ else } \theta_t \leftarrow \theta_{t-1} - \eta\, g_t / a_t
    """

    _buffer_names = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: Params, lr: LR = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False, state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        return dict(lr=C.nonneg(label("lr"), group["lr"]),
                    alpha=C.nonneg(label("alpha"), group["alpha"]),
                    eps=C.nonneg(label("eps"), group["eps"]),
                    weight_decay=C.nonneg(label("weight_decay"), group["weight_decay"]),
                    momentum=C.nonneg(label("momentum"), group["momentum"]),
                    centered=C.flag(label("centered"), group["centered"]),
                    maximize=C.flag(label("maximize"), group["maximize"]))

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        out = [("square_avg", self._zeros_like)]
        if h["momentum"] > 0:
            out.append(("momentum_buffer", self._zeros_like))
        if h["centered"]:
            out.append(("grad_avg", self._zeros_like))
        return out

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], step: int, names: list[str]) -> Call:
        return ("rmsprop", (params, grads, bufs["square_avg"], bufs.get("grad_avg"),
                            bufs.get("momentum_buffer")), dict(h, names=names))
