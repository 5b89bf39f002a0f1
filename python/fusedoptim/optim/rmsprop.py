from __future__ import annotations

from .. import _checks as C
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

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check_hparams(self, group, label):
        return dict(lr=C.nonneg(label("lr"), group["lr"]),
                    alpha=C.nonneg(label("alpha"), group["alpha"]),
                    eps=C.nonneg(label("eps"), group["eps"]),
                    weight_decay=C.nonneg(label("weight_decay"), group["weight_decay"]),
                    momentum=C.nonneg(label("momentum"), group["momentum"]),
                    centered=C.flag(label("centered"), group["centered"]),
                    maximize=C.flag(label("maximize"), group["maximize"]))

    def _needed_buffers(self, h):
        out = [("square_avg", self._zeros_like)]
        if h["momentum"] > 0:
            out.append(("momentum_buffer", self._zeros_like))
        if h["centered"]:
            out.append(("grad_avg", self._zeros_like))
        return out

    def _call(self, h, params, grads, bufs, step, names):
        return ("rmsprop", (params, grads, bufs["square_avg"], bufs.get("grad_avg"),
                            bufs.get("momentum_buffer")), dict(h, names=names))
