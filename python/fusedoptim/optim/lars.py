from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .. import _checks as C
from .._typing import (BufferInits, Call, Hyper, Label, LR, NewBuffers, ParamGroup, Params,
                       StateDtype)
from ._state import GroupState
from .base import Optimizer


class LARS(Optimizer):
    r"""LARS, layer-wise adaptive rate scaling (You et al. 2017, "Large Batch Training of
    Convolutional Networks"), as optax.lars; torch.optim has none.

    .. math::
        u_t &= \pm g_t + \lambda \theta_{t-1}, \qquad
        r_t = \frac{c\,\lVert \theta_{t-1} \rVert}{\lVert u_t \rVert + \epsilon}
        \text{ (1 if either norm is 0)} \\
        s_t &= -\eta\, r_t\, u_t, \qquad b_t = s_t + \mu b_{t-1}, \qquad
        \theta_t = \theta_{t-1} + \begin{cases} s_t + \mu b_t & \text{nesterov} \\
        b_t & \text{otherwise} \end{cases}

    with c = ``trust_coefficient``. optax's order: weight decay, trust ratio, learning
    rate, then the momentum trace, so the buffer ``momentum_buffer`` (b, zeros at the
    start) holds lr-scaled steps, unlike torch's SGD. Norms are per tensor (each param
    array is a layer); optax's masks are param groups here (a group with
    ``weight_decay=0`` and ``trust_coefficient`` ... for biases and norms). No step
    count. A step is two passes over memory: both norms of every tensor (reads p and g),
    then the update. CUDA device arrays run the same two passes on the GPU.
    """

    _buffer_names = ("momentum_buffer",)
    _has_step = False
    _multi_pass = True

    def __init__(self, params: Params, lr: LR, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = 1e-3, eps: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False, state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      trust_coefficient=trust_coefficient, eps=eps,
                                      nesterov=nesterov, maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        return C.checked(group, label, lr=C.nonneg, momentum=C.nonneg, weight_decay=C.nonneg,
                         trust_coefficient=C.nonneg, eps=C.nonneg, nesterov=C.flag,
                         maximize=C.flag)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("momentum_buffer", self._zeros_like),)

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        return 0  # nothing depends on a step count

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        return ("lars", (params, grads, bufs["momentum_buffer"]), dict(h, names=names))
