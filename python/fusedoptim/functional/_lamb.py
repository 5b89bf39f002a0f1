"""LAMB (You et al. 2019; optax.lamb): Adam's direction with decoupled weight decay,
scaled per tensor by the trust ratio ||p|| / ||u||. Two native passes per step: the
moments with both norms of every tensor, then the update."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import (ID, backend, flags, kernel_scalars, passes_of, run, scalar_packer,
                      trust_ratios)

_moments = scalar_packer("lamb_moments")
_update = scalar_packer("lamb_update")
passes_of("lamb", "lamb_moments", "lamb_update")


@kernel_scalars("lamb_moments", by_step=True)
def lamb_moments_scalars(step: int, beta1: float, beta2: float, eps: float, weight_decay: float,
                         **_: Any) -> tuple[float, ...]:
    return _moments(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                    bias_correction1=1 - beta1 ** step, bias_correction2=1 - beta2 ** step)


@kernel_scalars("lamb_update", by_step=True)
def lamb_update_scalars(step: int, lr: float, beta1: float, beta2: float, eps: float,
                        weight_decay: float, trust_ratio: float = 1.0,
                        **_: Any) -> tuple[float, ...]:
    return _update(eps=eps, weight_decay=weight_decay, bias_correction1=1 - beta1 ** step,
                   bias_correction2=1 - beta2 ** step, trust_ratio=trust_ratio, lr=lr)


def _checked(lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
             maximize: bool, step: int) -> tuple[float, float, float, float, float, bool, int]:
    lr, beta1, beta2, eps, weight_decay = C.adam_hparams(lr, beta1, beta2, eps, weight_decay,
                                                         decoupled=False)
    return (lr, beta1, beta2, eps, weight_decay, C.flag("maximize", maximize),
            C.step_count("step", step))


def lamb_work(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
              step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-6, weight_decay: float = 0.0, maximize: bool = False,
              names: Names = None) -> Work:
    """The first pass of :func:`lamb` (moments and norms), naming every array the step
    reads or writes: checking it checks the whole step."""
    lr, beta1, beta2, eps, weight_decay, maximize, step = _checked(
        lr, beta1, beta2, eps, weight_decay, maximize, step)
    f = flags("lamb_moments", maximize=maximize, weight_decay=weight_decay != 0)
    return (ID["lamb_moments"], f,
            lamb_moments_scalars(step, beta1=beta1, beta2=beta2, eps=eps,
                                 weight_decay=weight_decay),
            (params, grads, exp_avgs, exp_avg_sqs), names)


def lamb(params: ArrayList, grads: ArrayList, exp_avgs: ArrayList, exp_avg_sqs: ArrayList,
         step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-6,
         weight_decay: float = 0.0, maximize: bool = False, names: Names = None) -> None:
    r"""LAMB, as optax.lamb (scale_by_adam with eps_root = 0, add_decayed_weights,
    scale_by_trust_ratio, scale_by_learning_rate). ``step`` is the number of this update,
    t = 1 for the first; ``exp_avgs`` and ``exp_avg_sqs`` start at zero.

    .. math::
        g &\leftarrow \pm g, \qquad m \leftarrow (1-\beta_1) g + \beta_1 m, \qquad
        v \leftarrow (1-\beta_2) g^2 + \beta_2 v \\
        u &= \frac{m / (1-\beta_1^t)}{\sqrt{v / (1-\beta_2^t)} + \epsilon} + \lambda p, \qquad
        r = \frac{\lVert p \rVert}{\lVert u \rVert} \text{ (1 if either norm is 0)} \\
        p &\leftarrow p - \eta\, r\, u

    Norms are per tensor, summed in float64. Two passes over memory: the moments and
    both norms of every tensor (one native call), then the update (one native call).
    """
    work = lamb_work(params, grads, exp_avgs, exp_avg_sqs, step, lr=lr, beta1=beta1,
                     beta2=beta2, eps=eps, weight_decay=weight_decay, maximize=maximize,
                     names=names)
    side = backend(params)
    sums = side.apply_sums([work])  # checks every array, then the first pass
    ratios = trust_ratios(sums[:, 0], sums[:, 1])
    lr, beta1, beta2, eps, weight_decay, _, step = _checked(lr, beta1, beta2, eps, weight_decay,
                                                            maximize, step)
    f = flags("lamb_update", weight_decay=weight_decay != 0)
    name_list = list(names) if names is not None else [str(i) for i in range(len(params))]
    run([(ID["lamb_update"], f,
          lamb_update_scalars(step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                              weight_decay=weight_decay, trust_ratio=float(r)),
          ([p], [m], [v]), [n])
         for p, m, v, r, n in zip(params, exp_avgs, exp_avg_sqs, ratios, name_list)])
