from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks as C
from .. import _native
from .. import functional as F
from .._typing import BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class ASGD(Optimizer):
    r"""Averaged SGD, as torch.optim.ASGD.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda_{wd}\theta_{t-1}, \qquad
        \theta_t \leftarrow \theta_{t-1}(1 - \lambda\eta_t) - \eta_t g_t \\
        \bar\theta_t &\leftarrow \bar\theta_{t-1} + \mu_t(\theta_t - \bar\theta_{t-1})
            \ (\mu_t \ne 1), \text{ else } \bar\theta_t \leftarrow \theta_t \\
        \eta_{t+1} &= \frac{\eta_0}{(1 + \lambda\eta_0 t)^\alpha}, \qquad
        \mu_{t+1} = \frac{1}{\max(1, t - t_0)}

    :math:`\eta_0` is the group's lr at step t (so a scheduled lr reaches eta one step
    later, as in torch). The state keeps ``eta`` and ``mu`` per param as torch does (0-d
    float32 arrays) and the average ``ax``.
    """

    _buffer_names = ("eta", "mu", "ax")
    _scalar_state = ("eta", "mu")
    _state_flag_mask = _native.SPECS["asgd"]["flags"]["average"]

    @staticmethod
    def _state_flags(args: Hyper) -> int:
        return ASGD._state_flag_mask if args["mu"] != 1 else 0

    def __init__(self, params: Params, lr: LR = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        return C.checked(group, label, lr=C.nonneg, lambd=C.nonneg, alpha=C.real, t0=C.real,
                         weight_decay=C.nonneg, maximize=C.flag)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        lr = h["lr"]
        return (("eta", lambda p: np.array(lr, np.float32)),
                ("mu", lambda p: np.ones((), np.float32)), ("ax", self._zeros_like))

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        step, eta, mu = key
        return ("asgd", (params, grads, bufs["ax"], step), dict(h, eta=eta, mu=mu, names=names))

    def _next_scalar_state(self, h: Hyper, step: int,
                           values: list[float]) -> tuple[float, ...]:
        return F.asgd_next(step, h["lr"], h["lambd"], h["alpha"], h["t0"])
