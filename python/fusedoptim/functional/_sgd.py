"""SGD with momentum (torch.optim.SGD)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import _checks as C
from .._typing import Array, ArrayList, Names, Work
from ._kernel import ID, backend, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("sgd")


@kernel_scalars("sgd", by_step=False)
def sgd_scalars(step: int | None, lr: float, momentum: float, dampening: float, weight_decay: float,
                **_: Any) -> tuple[float, ...]:
    return _pack(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)


def _sgd_hparams(lr: float, momentum: float, dampening: float, weight_decay: float,
                 nesterov: bool) -> tuple[float, float, float, float]:
    lr = C.nonneg("lr", lr)
    momentum = C.nonneg("momentum", momentum)
    dampening = C.real("dampening", dampening)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov: Nesterov momentum requires a momentum > 0 and zero dampening")
    return lr, momentum, dampening, weight_decay


def sgd_work(params: ArrayList, grads: ArrayList, momentum_buffers: Sequence[Array | None] | None,
             *, lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
             nesterov: bool = False, maximize: bool = False, first_step: bool = False,
             names: Names = None) -> Work:
    lr, momentum, dampening, weight_decay = _sgd_hparams(lr, momentum, dampening, weight_decay,
                                                         nesterov)
    f = flags("sgd", maximize=maximize, weight_decay=weight_decay != 0, momentum=momentum != 0,
              first_step=first_step, nesterov=nesterov)
    return (ID["sgd"], f, sgd_scalars(None, lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay),
            (params, grads, momentum_buffers if momentum != 0 else None), names)


def _sgd_split_works(params: ArrayList, grads: ArrayList, momentum_buffers: Any,
                     missing: list[int], kw: dict[str, Any], new: Any = None) -> list[Work]:
    """The works of an sgd call whose buffers at ``missing`` are None: one for the params
    with a buffer, one for those taking a new one (``new``: index -> the new buffer; None:
    the second work leaves the buffers out, to check the other arrays before any exists)."""
    first = set(missing)
    works = []
    for is_first in (False, True):
        idx = [i for i in range(len(params)) if (i in first) == is_first]
        if not idx:
            continue
        if is_first and new is None:
            sub, bufs = dict(kw, momentum=0.0, nesterov=False), None
        else:
            sub, bufs = kw, [new[i] if is_first else momentum_buffers[i] for i in idx]
        works.append(sgd_work([params[i] for i in idx], [grads[i] for i in idx], bufs,
                              first_step=is_first and new is not None,
                              names=[str(i) for i in idx], **sub))
    return works


def sgd_missing_buffers(params: ArrayList, grads: ArrayList,
                        momentum_buffers: Sequence[Array | None] | None,
                        validate: Callable[[list[Work]], None], kw: dict[str, Any]) -> list[int]:
    """Check everything of an sgd call (``kw``: its keywords) while creating and writing
    nothing; ``validate`` checks works without running them. Returns the indices of the
    None entries of ``momentum_buffers`` that the call fills with new buffers (empty when
    there are none: the call's one work is then checked completely as it runs)."""
    momentum = _sgd_hparams(kw["lr"], kw["momentum"], kw["dampening"], kw["weight_decay"],
                            kw["nesterov"])[1]
    if momentum == 0 or momentum_buffers is None:
        return []
    for name, lst in (("params", params), ("grads", grads),
                      ("momentum_buffers", momentum_buffers)):
        if not isinstance(lst, (list, tuple)):
            raise TypeError(f"{name}: expected a list of arrays, got {type(lst).__name__}")
    missing = [i for i, b in enumerate(momentum_buffers) if b is None]
    if not missing:
        return []
    for name, lst in (("grads", grads), ("momentum_buffers", momentum_buffers)):
        if len(lst) != len(params):
            raise ValueError(f"{name}: has {len(lst)} entries but params has {len(params)}")
    if not isinstance(momentum_buffers, list):
        raise TypeError(f"momentum_buffers: has None entries to fill with new buffers, so it "
                        f"must be a list, got {type(momentum_buffers).__name__}")
    validate(_sgd_split_works(params, grads, momentum_buffers, missing, kw))
    return missing


def sgd(params: ArrayList, grads: ArrayList, momentum_buffers: Sequence[Array | None] | None, *,
        lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, maximize: bool = False) -> None:
    r"""SGD with momentum, as torch.optim.SGD.

    .. math::
        g &\leftarrow \pm g + \lambda p \\
        b &\leftarrow g \text{ (first step) or } \mu b + (1-\tau) g \\
        g &\leftarrow g + \mu b \text{ (nesterov) or } b \\
        p &\leftarrow p - \eta g

    ``momentum_buffers`` is a list aligned with params. An entry None means the
    buffer does not exist yet: it is created holding the (decayed) gradient and
    stored into the list, as torch does. Ignored when momentum is 0. Everything is
    checked before a buffer is created: a call that raises leaves the list as it was.
    """
    kw: dict[str, Any] = dict(lr=lr, momentum=momentum, dampening=dampening,
                              weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    side = backend(params)
    missing = sgd_missing_buffers(params, grads, momentum_buffers, side.validate, kw)
    if not missing:
        run([sgd_work(params, grads, momentum_buffers, **kw)])
        return
    # Everything checked: make the buffers the kernel fills on this step, and store
    # them once it has run.
    new = {i: side.empty_like(params[i]) for i in missing}
    run(_sgd_split_works(params, grads, momentum_buffers, missing, kw, new))
    for i, b in new.items():
        momentum_buffers[i] = b  # type: ignore[index]  # a list: sgd_missing_buffers checked
