"""Adagrad (torch.optim.Adagrad)."""
from __future__ import annotations

from .. import _checks as C
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("adagrad")


@kernel_scalars("adagrad", by_step=True)
def adagrad_scalars(step, lr, weight_decay, lr_decay, eps, **_):
    return _pack(clr=lr / (1 + (step - 1) * lr_decay), weight_decay=weight_decay, eps=eps)


def adagrad_work(params, grads, state_sums, step, *, lr, weight_decay=0.0, lr_decay=0.0,
                 eps=1e-10, maximize=False, names=None):
    lr = C.nonneg("lr", lr)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    lr_decay = C.nonneg("lr_decay", lr_decay)
    eps = C.nonneg("eps", eps)
    step = C.step_count("step", step)
    f = flags("adagrad", maximize=maximize, weight_decay=weight_decay != 0)
    return (ID["adagrad"], f,
            adagrad_scalars(step, lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps),
            (params, grads, state_sums), names)


def adagrad(params, grads, state_sums, step, *, lr, weight_decay=0.0, lr_decay=0.0, eps=1e-10,
            maximize=False):
    r"""Adagrad, as torch.optim.Adagrad; ``step`` is the number of this update (1 first).

    .. math::
        g &\leftarrow \pm g + \lambda p, \qquad
        \tilde\eta = \eta / (1 + (t-1)\,\text{lr\_decay}) \\
        s &\leftarrow s + g^2, \qquad
        p \leftarrow p - \tilde\eta\, g / (\sqrt{s} + \epsilon)
    """
    run([adagrad_work(params, grads, state_sums, step, lr=lr, weight_decay=weight_decay,
                      lr_decay=lr_decay, eps=eps, maximize=maximize)])
