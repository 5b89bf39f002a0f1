"""LARS (You et al. 2017; optax.lars): weight decay, a per-tensor trust ratio, the
learning rate, then a momentum trace. Two native passes per step: both norms of every
tensor, then the update."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import (ID, backend, flags, kernel_scalars, passes_of, run, scalar_packer,
                      trust_ratios)

_norms = scalar_packer("lars_norms")
_update = scalar_packer("lars_update")
passes_of("lars", "lars_norms", "lars_update")


@kernel_scalars("lars_norms", by_step=False)
def lars_norms_scalars(step: int | None, weight_decay: float, **_: Any) -> tuple[float, ...]:
    return _norms(weight_decay=weight_decay)


@kernel_scalars("lars_update", by_step=False)
def lars_update_scalars(step: int | None, lr: float, momentum: float, weight_decay: float,
                        trust_ratio: float = 1.0, **_: Any) -> tuple[float, ...]:
    return _update(weight_decay=weight_decay, trust_ratio=trust_ratio, lr=lr, momentum=momentum)


def _checked(lr: float, momentum: float, weight_decay: float, trust_coefficient: float,
             eps: float) -> tuple[float, float, float, float, float]:
    return (C.nonneg("lr", lr), C.nonneg("momentum", momentum),
            C.nonneg("weight_decay", weight_decay),
            C.nonneg("trust_coefficient", trust_coefficient), C.nonneg("eps", eps))


def lars_work(params: ArrayList, grads: ArrayList, momentum_buffers: ArrayList, *, lr: float,
              momentum: float = 0.9, weight_decay: float = 0.0, trust_coefficient: float = 1e-3,
              eps: float = 0.0, nesterov: bool = False, maximize: bool = False,
              names: Names = None) -> Work:
    """The step of :func:`lars` as one work naming every array it reads or writes (the
    update pass's): checking it checks the whole step."""
    lr, momentum, weight_decay, _, _ = _checked(lr, momentum, weight_decay, trust_coefficient,
                                                eps)
    f = flags("lars_update", maximize=C.flag("maximize", maximize),
              weight_decay=weight_decay != 0, nesterov=C.flag("nesterov", nesterov))
    return (ID["lars_update"], f,
            lars_update_scalars(None, lr=lr, momentum=momentum, weight_decay=weight_decay),
            (params, grads, momentum_buffers), names)


def lars(params: ArrayList, grads: ArrayList, momentum_buffers: ArrayList, *, lr: float,
         momentum: float = 0.9, weight_decay: float = 0.0, trust_coefficient: float = 1e-3,
         eps: float = 0.0, nesterov: bool = False, maximize: bool = False,
         names: Names = None) -> None:
    r"""LARS, as optax.lars (add_decayed_weights, scale_by_trust_ratio,
    scale_by_learning_rate, trace), in that order. ``momentum_buffers`` start at zero and
    hold optax's trace (the lr-scaled steps).

    .. math::
        u &= \pm g + \lambda p, \qquad
        r = \frac{c\,\lVert p \rVert}{\lVert u \rVert + \epsilon}
        \text{ (1 if either norm is 0)} \\
        u &\leftarrow -\eta\, r\, u, \qquad b \leftarrow u + \mu b, \qquad
        p \leftarrow p + (u + \mu b \text{ if nesterov else } b)

    with c the trust coefficient. Norms are per tensor, summed in float64. Two passes
    over memory: both norms of every tensor (one native call, reads p and g), then the
    update (one native call).
    """
    work = lars_work(params, grads, momentum_buffers, lr=lr, momentum=momentum,
                     weight_decay=weight_decay, trust_coefficient=trust_coefficient, eps=eps,
                     nesterov=nesterov, maximize=maximize, names=names)
    side = backend(params)
    side.validate([work])  # every array of the step, before anything changes
    lr, momentum, weight_decay, trust_coefficient, eps = _checked(
        lr, momentum, weight_decay, trust_coefficient, eps)
    norms = (ID["lars_norms"], flags("lars_norms", maximize=maximize,
                                     weight_decay=weight_decay != 0),
             lars_norms_scalars(None, weight_decay=weight_decay), (params, grads), names)
    sums = side.apply_sums([norms])
    ratios = trust_ratios(sums[:, 0], sums[:, 1], trust_coefficient, eps)
    family, f, _, _, _ = work
    name_list = list(names) if names is not None else [str(i) for i in range(len(params))]
    run([(family, f,
          lars_update_scalars(None, lr=lr, momentum=momentum, weight_decay=weight_decay,
                              trust_ratio=float(r)),
          ([p], [g], [b]), [n])
         for p, g, b, r, n in zip(params, grads, momentum_buffers, ratios, name_list)])
