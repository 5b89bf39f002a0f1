from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .. import _checks as C
from ..functional._adadelta import rho_value
from .._typing import (BufferInits, Call, Hyper, Label, LR, NewBuffers, ParamGroup, Params,
                       StateDtype)
from ._state import GroupState
from .base import Optimizer


class Adadelta(Optimizer):
    r"""Adadelta, as torch.optim.Adadelta.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda\theta_{t-1}, \qquad
        v_t \leftarrow \rho v_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{a_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
        a_t \leftarrow \rho a_{t-1} + (1-\rho)\Delta_t^2, \qquad
        \theta_t \leftarrow \theta_{t-1} - \eta\Delta_t
    """

    _buffer_names = ("square_avg", "acc_delta")

    def __init__(self, params: Params, lr: LR = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        return C.checked(group, label, lr=C.nonneg, rho=rho_value, eps=C.nonneg,
                         weight_decay=C.nonneg, maximize=C.flag)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("square_avg", self._zeros_like), ("acc_delta", self._zeros_like))

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        return 0  # no per-step scalar depends on the step count: one launch per group

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        return ("adadelta", (params, grads, bufs["square_avg"], bufs["acc_delta"]),
                dict(h, names=names))
