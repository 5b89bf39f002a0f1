from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .. import _checks as C
from .._typing import (Betas, BufferInits, Call, Hyper, Label, LR, NewBuffers,
                       ParamGroup, Params, StateDtype)
from ._state import GroupState
from .base import Optimizer


class Lion(Optimizer):
    r"""Lion, the evolved sign momentum of Chen et al. 2023 ("Symbolic Discovery of
    Optimization Algorithms"), as optax.lion; torch.optim has none.

    .. math::
        g_t &\leftarrow \pm g_t, \qquad u_t = \operatorname{sign}(\beta_1 m_{t-1} + (1-\beta_1) g_t) \\
        \theta_t &\leftarrow \theta_{t-1}(1 - \eta\lambda) - \eta u_t, \qquad
        m_t \leftarrow \beta_2 m_{t-1} + (1-\beta_2) g_t

    Every coordinate moves by exactly lr (the sign), so Lion wants a 3-10x smaller lr and
    a 3-10x larger weight decay than AdamW. State: ``exp_avg`` (m), no step count.
    """

    _buffer_names = ("exp_avg",)
    _has_step = False

    def __init__(self, params: Params, lr: LR = 1e-4, betas: Betas = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        return dict(C.checked(group, label, lr=C.nonneg, weight_decay=C.nonneg, maximize=C.flag),
                    beta1=beta1, beta2=beta2)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("exp_avg", self._zeros_like),)

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        return 0  # nothing depends on the step count: one launch per group

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        return ("lion", (params, grads, bufs["exp_avg"]), dict(h, names=names))
