"""RMSprop (torch.optim.RMSprop)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("rmsprop")


@kernel_scalars("rmsprop", by_step=False)
def rmsprop_scalars(step: int | None, lr: float, alpha: float, eps: float, weight_decay: float,
                    momentum: float, **_: Any) -> tuple[float, ...]:
    return _pack(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)


def rmsprop_work(params: ArrayList, grads: ArrayList, square_avgs: ArrayList,
                 grad_avgs: ArrayList | None, momentum_buffers: ArrayList | None, *, lr: float,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False,
                 names: Names = None) -> Work:
    lr = C.nonneg("lr", lr)
    alpha = C.nonneg("alpha", alpha)
    eps = C.nonneg("eps", eps)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    momentum = C.nonneg("momentum", momentum)
    f = flags("rmsprop", maximize=maximize, weight_decay=weight_decay != 0,
                   momentum=momentum > 0, centered=centered)
    return (ID["rmsprop"], f, rmsprop_scalars(None, lr=lr, alpha=alpha, eps=eps,
                                                   weight_decay=weight_decay, momentum=momentum),
            (params, grads, square_avgs, momentum_buffers if momentum > 0 else None,
             grad_avgs if centered else None), names)


def rmsprop(params: ArrayList, grads: ArrayList, square_avgs: ArrayList,
            grad_avgs: ArrayList | None, momentum_buffers: ArrayList | None, *, lr: float,
            alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
            momentum: float = 0.0, centered: bool = False, maximize: bool = False) -> None:
    r"""RMSprop, as torch.optim.RMSprop. ``grad_avgs`` is used when centered,
    ``momentum_buffers`` when momentum > 0 (both start at zero); either may be None otherwise.

    .. math::
        g &\leftarrow \pm g + \lambda p, \qquad v \leftarrow \alpha v + (1-\alpha) g^2 \\
        \bar g &\leftarrow \text{lerp}(\bar g, g, 1-\alpha), \quad
        a = \sqrt{v - \bar g^2} + \epsilon \text{ (centered), else } a = \sqrt{v} + \epsilon \\
        b &\leftarrow \mu b + g/a,\ p \leftarrow p - \eta b \ (\mu > 0), \text{ else }
        p \leftarrow p - \eta g / a
    """
    run([rmsprop_work(params, grads, square_avgs, grad_avgs, momentum_buffers, lr=lr,
                              alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                              centered=centered, maximize=maximize)])
