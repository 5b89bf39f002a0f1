from __future__ import annotations

from .. import _checks as C
from .base import Optimizer


class Adamax(Optimizer):
    r"""Adamax, Adam with the infinity norm, as torch.optim.Adamax.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda\theta_{t-1}, \qquad
        m_t \leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        u_t &\leftarrow \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \qquad
        \theta_t \leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t}
    """

    _buffer_names = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check_hparams(self, group, label):
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        return dict(C.checked(group, label, lr=C.nonneg, eps=C.nonneg, weight_decay=C.nonneg,
                              maximize=C.flag), beta1=beta1, beta2=beta2)

    def _needed_buffers(self, h):
        return (("exp_avg", self._zeros_like), ("exp_inf", self._zeros_like))

    def _call(self, h, params, grads, bufs, step, names):
        return ("adamax", (params, grads, bufs["exp_avg"], bufs["exp_inf"], step),
                dict(h, names=names))
