"""Adagrad (torch.optim.Adagrad)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("adagrad")


@kernel_scalars("adagrad", by_step=True)
def adagrad_scalars(step: int, lr: float, weight_decay: float, lr_decay: float, eps: float,
                    **_: Any) -> tuple[float, ...]:
    return _pack(clr=lr / (1 + (step - 1) * lr_decay), weight_decay=weight_decay, eps=eps)


def adagrad_work(params: ArrayList, grads: ArrayList, state_sums: ArrayList, step: int, *,
                 lr: float, weight_decay: float = 0.0, lr_decay: float = 0.0, eps: float = 1e-10,
                 maximize: bool = False, names: Names = None) -> Work:
    lr = C.nonneg("lr", lr)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    lr_decay = C.nonneg("lr_decay", lr_decay)
    eps = C.nonneg("eps", eps)
    step = C.step_count("step", step)
    f = flags("adagrad", maximize=maximize, weight_decay=weight_decay != 0)
    return (ID["adagrad"], f,
            adagrad_scalars(step, lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps),
            (params, grads, state_sums), names)


def adagrad(params: ArrayList, grads: ArrayList, state_sums: ArrayList, step: int, *, lr: float,
            weight_decay: float = 0.0, lr_decay: float = 0.0, eps: float = 1e-10,
            maximize: bool = False) -> None:
    r"""Adagrad, as torch.optim.Adagrad; ``step`` is the number of this update (1 first).

    .. math::
        g &\leftarrow \pm g + \lambda p, \qquad
        \tilde\eta = \eta / (1 + (t-1)\,\text{lr\_decay}) \\
        s &\leftarrow s + g^2, \qquad
        p \leftarrow p - \tilde\eta\, g / (\sqrt{s} + \epsilon)
    """
    run([adagrad_work(params, grads, state_sums, step, lr=lr, weight_decay=weight_decay,
                      lr_decay=lr_decay, eps=eps, maximize=maximize)])
