from __future__ import annotations

import numpy as np

from .. import _checks as C
from .. import _native
from .. import functional as F
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
    def _state_flags(args):
        return ASGD._state_flag_mask if args["mu"] != 1 else 0

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize))

    def _check_hparams(self, group, label):
        return C.checked(group, label, lr=C.nonneg, lambd=C.nonneg, alpha=C.real, t0=C.real,
                         weight_decay=C.nonneg, maximize=C.flag)

    def _needed_buffers(self, h):
        lr = h["lr"]
        return (("eta", lambda p: np.array(lr, np.float32)),
                ("mu", lambda p: np.ones((), np.float32)), ("ax", self._zeros_like))

    def _call(self, h, params, grads, bufs, key, names):
        step, eta, mu = key
        return ("asgd", (params, grads, bufs["ax"], step), dict(h, eta=eta, mu=mu, names=names))

    def _next_scalar_state(self, h, step, values):
        return F.asgd_next(step, h["lr"], h["lambd"], h["alpha"], h["t0"])
