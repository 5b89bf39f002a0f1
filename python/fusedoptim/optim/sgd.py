from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .. import _checks as C
from .._typing import (BufferInits, Call, Hyper, Label, LR, NewBuffers, ParamGroup, Params,
                       StateDtype)
from ._state import GroupState
from .base import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum, as torch.optim.SGD.

    .. math::
        g_t &\leftarrow \pm \nabla_\theta f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad(\text{minus when } \textit{maximize}) \\
        b_t &\leftarrow g_t \text{ at the first step, else } \mu b_{t-1} + (1-\tau) g_t \\
        g_t &\leftarrow g_t + \mu b_t \text{ (nesterov) or } b_t \text{ (momentum > 0)} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, g_t

    The buffer starts as the first gradient (no dampening then), as in torch. With
    dampening 0 this is the textbook momentum v <- mu v - eta g, theta <- theta + v
    with v = -eta b; see the README.
    """

    _buffer_names = ("momentum_buffer",)
    _has_step = False

    def __init__(self, params: Params, lr: LR = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        h = dict(lr=C.nonneg(label("lr"), group["lr"]),
                 momentum=C.nonneg(label("momentum"), group["momentum"]),
                 dampening=C.real(label("dampening"), group["dampening"]),
                 weight_decay=C.nonneg(label("weight_decay"), group["weight_decay"]),
                 nesterov=C.flag(label("nesterov"), group["nesterov"]),
                 maximize=C.flag(label("maximize"), group["maximize"]))
        if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
            raise ValueError(f"{label('nesterov')}: Nesterov momentum requires a momentum > 0 "
                             "and zero dampening")
        return h

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("momentum_buffer", self._empty_like),) if h["momentum"] != 0 else ()

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        return ("momentum_buffer", j) in new  # first step of this buffer: it takes the gradient

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], first_step: bool, names: list[str]) -> Call:
        return ("sgd", (params, grads, bufs.get("momentum_buffer")),
                dict(h, first_step=first_step, names=names))
