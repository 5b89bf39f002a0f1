"""Stateless optimizer updates over lists of NumPy arrays (or CUDA device arrays), run by the
fused native kernels.

Each function updates ``params`` and the state lists in place in one native call
(one pass over memory, OpenMP threads, SIMD) and only reads ``grads``. The
formulas are torch.optim's; each docstring states its own. For users who keep
their own state; the optimizer classes call the ``*_work`` builders below, so
every group of a step goes to the native layer in one call and is checked
completely before anything changes.

A work is what the native layer runs: ``(family, flags, scalars, operands, names)``.
"""
from __future__ import annotations

import math

from . import _backends
from . import _checks as C
from . import _native

_ID = {name: spec["id"] for name, spec in _native.SPECS.items()}
_FLAGS = {name: spec["flags"] for name, spec in _native.SPECS.items()}


def _backend(params):
    """Host or CUDA, from the first param (the native checks name any array of the
    other side)."""
    return _backends.for_arrays(params) if isinstance(params, (list, tuple)) else _backends.HOST


_run = _backends.run


def _flags(family: str, **on: bool) -> int:
    bits = _FLAGS[family]
    return sum(bits[name] for name, value in on.items() if value)


# Per-step scalars of each family, in the kernel's order (csrc/optimizers/kernel_spec.h).
# Pure functions of already-checked values, so a reused plan can recompute them cheaply
# (positionally, in the order of their parameters).
def sgd_scalars(step, lr, momentum, dampening, weight_decay, **_):
    return (lr, momentum, dampening, weight_decay)


def adagrad_scalars(step, lr, weight_decay, lr_decay, eps, **_):
    return (lr / (1 + (step - 1) * lr_decay), weight_decay, eps)


def rmsprop_scalars(step, lr, alpha, eps, weight_decay, momentum, **_):
    return (lr, alpha, eps, weight_decay, momentum)


def adam_scalars(step, lr, beta1, beta2, eps, weight_decay, **_):
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    if not math.isfinite(step_size):  # finite lr and beta1 < 1, but an lr near the float max
        raise ValueError(f"lr: lr / (1 - beta1**{step}) = {lr} / {bias_correction1} is not "
                         "finite")
    bias_correction2_sqrt = bias_correction2 ** 0.5
    return (lr, beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt)


def rprop_scalars(step, etaminus, etaplus, step_size_min, step_size_max, lr=None, **_):
    # lr only seeds the step sizes and is no scalar of the kernel; it is a parameter here so
    # that a reused plan (optim/_fast.py) still evaluates and checks a callable lr at every
    # step, as the general path does.
    return (etaminus, etaplus, step_size_min, step_size_max)


#: functional name -> (scalar function, whether the scalars change with the step number)
SCALARS = {"sgd": (sgd_scalars, False), "adagrad": (adagrad_scalars, True),
           "rmsprop": (rmsprop_scalars, False), "adam": (adam_scalars, True),
           "rprop": (rprop_scalars, False)}


# --------------------------------------------------------------------------- SGD
def _sgd_hparams(lr, momentum, dampening, weight_decay, nesterov):
    lr = C.nonneg("lr", lr)
    momentum = C.nonneg("momentum", momentum)
    dampening = C.real("dampening", dampening)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov: Nesterov momentum requires a momentum > 0 and zero dampening")
    return lr, momentum, dampening, weight_decay


def sgd_work(params, grads, momentum_buffers, *, lr, momentum=0.0, dampening=0.0,
             weight_decay=0.0, nesterov=False, maximize=False, first_step=False, names=None):
    lr, momentum, dampening, weight_decay = _sgd_hparams(lr, momentum, dampening, weight_decay,
                                                         nesterov)
    flags = _flags("sgd", maximize=maximize, weight_decay=weight_decay != 0,
                   momentum=momentum != 0, first_step=first_step, nesterov=nesterov)
    return (_ID["sgd"], flags, sgd_scalars(None, lr=lr, momentum=momentum, dampening=dampening,
                                           weight_decay=weight_decay),
            (params, grads, momentum_buffers if momentum != 0 else None), names)


def _sgd_split_works(params, grads, momentum_buffers, missing, kw, new=None):
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


def sgd_missing_buffers(params, grads, momentum_buffers, validate, kw) -> list:
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


def sgd(params, grads, momentum_buffers, *, lr, momentum=0.0, dampening=0.0,
        weight_decay=0.0, nesterov=False, maximize=False):
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
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
              nesterov=nesterov, maximize=maximize)
    backend = _backend(params)
    missing = sgd_missing_buffers(params, grads, momentum_buffers, backend.validate, kw)
    if not missing:
        _run([sgd_work(params, grads, momentum_buffers, **kw)])
        return
    # Everything checked: make the buffers the kernel fills on this step, and store
    # them once it has run.
    new = {i: backend.empty_like(params[i]) for i in missing}
    _run(_sgd_split_works(params, grads, momentum_buffers, missing, kw, new))
    for i, b in new.items():
        momentum_buffers[i] = b


# ------------------------------------------------------------------------ Adagrad
def adagrad_work(params, grads, state_sums, step, *, lr, weight_decay=0.0, lr_decay=0.0,
                 eps=1e-10, maximize=False, names=None):
    lr = C.nonneg("lr", lr)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    lr_decay = C.nonneg("lr_decay", lr_decay)
    eps = C.nonneg("eps", eps)
    step = C.step_count("step", step)
    flags = _flags("adagrad", maximize=maximize, weight_decay=weight_decay != 0)
    return (_ID["adagrad"], flags,
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
    _run([adagrad_work(params, grads, state_sums, step, lr=lr, weight_decay=weight_decay,
                              lr_decay=lr_decay, eps=eps, maximize=maximize)])


# ------------------------------------------------------------------------ RMSprop
def rmsprop_work(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha=0.99,
                 eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False,
                 names=None):
    lr = C.nonneg("lr", lr)
    alpha = C.nonneg("alpha", alpha)
    eps = C.nonneg("eps", eps)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    momentum = C.nonneg("momentum", momentum)
    flags = _flags("rmsprop", maximize=maximize, weight_decay=weight_decay != 0,
                   momentum=momentum > 0, centered=centered)
    return (_ID["rmsprop"], flags, rmsprop_scalars(None, lr=lr, alpha=alpha, eps=eps,
                                                   weight_decay=weight_decay, momentum=momentum),
            (params, grads, square_avgs, momentum_buffers if momentum > 0 else None,
             grad_avgs if centered else None), names)


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha=0.99, eps=1e-8,
            weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    r"""RMSprop, as torch.optim.RMSprop. ``grad_avgs`` is used when centered,
    ``momentum_buffers`` when momentum > 0 (both start at zero); either may be None otherwise.

    .. math::
        g &\leftarrow \pm g + \lambda p, \qquad v \leftarrow \alpha v + (1-\alpha) g^2 \\
        \bar g &\leftarrow \text{lerp}(\bar g, g, 1-\alpha), \quad
        a = \sqrt{v - \bar g^2} + \epsilon \text{ (centered), else } a = \sqrt{v} + \epsilon \\
        b &\leftarrow \mu b + g/a,\ p \leftarrow p - \eta b \ (\mu > 0), \text{ else }
        p \leftarrow p - \eta g / a
    """
    _run([rmsprop_work(params, grads, square_avgs, grad_avgs, momentum_buffers, lr=lr,
                              alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                              centered=centered, maximize=maximize)])


# --------------------------------------------------------------------------- Adam
def adam_work(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, *, lr, beta1=0.9,
              beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
              decoupled_weight_decay=False, names=None):
    lr = C.nonneg("lr", lr)
    beta1 = C.in_unit_interval("beta1", beta1)
    beta2 = C.in_unit_interval("beta2", beta2)
    eps = C.nonneg("eps", eps)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    step = C.step_count("step", step)
    flags = _flags("adam", maximize=maximize, weight_decay=weight_decay != 0,
                   decoupled=decoupled_weight_decay, amsgrad=amsgrad)
    return (_ID["adam"], flags,
            adam_scalars(step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay),
            (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs if amsgrad else None), names)


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, *, lr, beta1=0.9,
         beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
         decoupled_weight_decay=False):
    r"""Adam (bias-corrected), as torch.optim.Adam; AdamW with ``decoupled_weight_decay``.
    ``step`` is the number of this update, t = 1 for the first.

    .. math::
        g &\leftarrow \pm g; \quad p \leftarrow p(1-\eta\lambda) \text{ (decoupled) or }
        g \leftarrow g + \lambda p \\
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \hat v &= \max(\hat v, v) \text{ (amsgrad) or } v \\
        p &\leftarrow p - \frac{\eta}{1-\beta_1^t}\,
        \frac{m}{\sqrt{\hat v}/\sqrt{1-\beta_2^t} + \epsilon}

    The first moment is updated with torch's lerp, which is the same EMA rounded alike.
    ``max_exp_avg_sqs`` is used only with amsgrad (may be None otherwise).
    """
    _run([adam_work(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr=lr,
                           beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                           amsgrad=amsgrad, maximize=maximize,
                           decoupled_weight_decay=decoupled_weight_decay)])


def adamw(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, *, lr, beta1=0.9,
          beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    """AdamW: :func:`adam` with decoupled weight decay, p <- p * (1 - lr * weight_decay)."""
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr=lr, beta1=beta1,
         beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
         decoupled_weight_decay=True)


# -------------------------------------------------------------------------- Rprop
def rprop_work(params, grads, prevs, step_sizes, *, step_size_min=1e-6, step_size_max=50.0,
               etaminus=0.5, etaplus=1.2, maximize=False, names=None):
    etaminus = C.real("etaminus", etaminus)
    etaplus = C.real("etaplus", etaplus)
    if not 0.0 < etaminus < 1.0 < etaplus:
        raise ValueError(f"etas: need 0 < etaminus < 1 < etaplus, got ({etaminus}, {etaplus})")
    step_size_min = C.nonneg("step_size_min", step_size_min)
    step_size_max = C.nonneg("step_size_max", step_size_max)
    if step_size_min > step_size_max:
        raise ValueError(f"step_sizes: min {step_size_min} is larger than max {step_size_max}")
    return (_ID["rprop"], _flags("rprop", maximize=maximize),
            rprop_scalars(None, etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
                          step_size_max=step_size_max), (params, grads, prevs, step_sizes),
            names)


def rprop(params, grads, prevs, step_sizes, *, step_size_min=1e-6, step_size_max=50.0,
          etaminus=0.5, etaplus=1.2, maximize=False):
    r"""Rprop, as torch.optim.Rprop. ``prevs`` start at zero and ``step_sizes`` at lr.

    .. math::
        s = \operatorname{sign}(g \cdot g_{prev}); \quad
        \Delta \leftarrow \operatorname{clip}(\Delta \cdot \{\eta^+, \eta^-, 1\}_s,
        \Delta_{min}, \Delta_{max}) \\
        g \leftarrow 0 \text{ where } s < 0; \quad p \leftarrow p - \operatorname{sign}(g)\Delta;
        \quad g_{prev} \leftarrow g
    """
    _run([rprop_work(params, grads, prevs, step_sizes, step_size_min=step_size_min,
                            step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus,
                            maximize=maximize)])


__all__ = ["sgd", "adagrad", "rmsprop", "adam", "adamw", "rprop"]
