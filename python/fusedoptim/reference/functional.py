"""Pure NumPy twin of :mod:`fusedoptim.functional`: the oracle of the tests and the
NumPy baseline of the benchmarks.

Written straight from torch.optim's update rules, one tensor at a time, for
readability; same signatures as fusedoptim.functional. Arrays are checked by the
same native checks (nothing changes unless every array is acceptable), the
arithmetic is NumPy's.
"""
from __future__ import annotations

import numpy as np

from .. import _native
from .. import functional as F


def _lerp(start, end, weight):
    """torch.lerp: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def _scalar(x, like):
    """A Python float as the array's dtype, as torch casts scalar arguments."""
    return like.dtype.type(x)


def sgd(params, grads, momentum_buffers, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False, maximize=False, first_step=False, names=None):
    """``first_step=True`` (used by the optimizer classes, which allocate buffers up
    front) fills the given buffers with the gradient, as a None entry would."""
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
              nesterov=nesterov, maximize=maximize)
    # The native layer's checks, all of them before any buffer is created or written.
    if not F.sgd_missing_buffers(params, grads, momentum_buffers, _native.validate, kw):
        _native.validate([F.sgd_work(params, grads, momentum_buffers, first_step=first_step,
                                     **kw)])
    bufs = momentum_buffers if momentum != 0 and momentum_buffers is not None else None
    for i, p in enumerate(params):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            g = g + s(weight_decay) * p
        if bufs is not None:
            if bufs[i] is None:
                bufs[i] = g.copy()
            elif first_step:
                bufs[i][...] = g
            else:
                bufs[i][...] = bufs[i] * s(momentum) + s(1 - dampening) * g
            g = g + s(momentum) * bufs[i] if nesterov else bufs[i]
        p += s(-lr) * g


def adagrad(params, grads, state_sums, step, *, lr, weight_decay=0.0, lr_decay=0.0, eps=1e-10,
            maximize=False, names=None):
    _native.validate([F.adagrad_work(params, grads, state_sums, step, lr=lr,
                                     weight_decay=weight_decay, lr_decay=lr_decay, eps=eps,
                                     maximize=maximize)])
    clr = lr / (1 + (step - 1) * lr_decay)
    for p, g, ssum in zip(params, grads, state_sums):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + s(weight_decay) * p
        ssum += g * g
        p += s(-clr) * g / (np.sqrt(ssum) + s(eps))


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha=0.99, eps=1e-8,
            weight_decay=0.0, momentum=0.0, centered=False, maximize=False, names=None):
    _native.validate([F.rmsprop_work(params, grads, square_avgs, grad_avgs, momentum_buffers,
                                     lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                     momentum=momentum, centered=centered, maximize=maximize)])
    for i, p in enumerate(params):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            g = g + s(weight_decay) * p
        v = square_avgs[i]
        v[...] = v * s(alpha) + s(1 - alpha) * g * g
        if centered:
            m = grad_avgs[i]
            m[...] = _lerp(m, g, s(1 - alpha))
            avg = np.sqrt(v + s(-1) * m * m) + s(eps)
        else:
            avg = np.sqrt(v) + s(eps)
        if momentum > 0:
            b = momentum_buffers[i]
            b[...] = b * s(momentum) + g / avg
            p += s(-lr) * b
        else:
            p += s(-lr) * g / avg


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, *, lr, beta1=0.9,
         beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
         decoupled_weight_decay=False, names=None):
    _native.validate([F.adam_work(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step,
                                  lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                  weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                                  decoupled_weight_decay=decoupled_weight_decay)])
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    for i, p in enumerate(params):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= s(1 - lr * weight_decay)
            else:
                g = g + s(weight_decay) * p
        m, v = exp_avgs[i], exp_avg_sqs[i]
        m[...] = _lerp(m, g, s(1 - beta1))
        v[...] = v * s(beta2) + s(1 - beta2) * g * g
        if amsgrad:
            np.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
            v = max_exp_avg_sqs[i]
        denom = np.sqrt(v) / s(bias_correction2_sqrt) + s(eps)
        p += s(-step_size) * m / denom


def adamw(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, *, lr, beta1=0.9,
          beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr=lr, beta1=beta1,
         beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
         decoupled_weight_decay=True)


def rprop(params, grads, prevs, step_sizes, *, step_size_min=1e-6, step_size_max=50.0,
          etaminus=0.5, etaplus=1.2, maximize=False, names=None):
    _native.validate([F.rprop_work(params, grads, prevs, step_sizes, step_size_min=step_size_min,
                                   step_size_max=step_size_max, etaminus=etaminus,
                                   etaplus=etaplus, maximize=maximize)])
    for p, g, prev, size in zip(params, grads, prevs, step_sizes):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        sign = np.sign(g * prev)
        factor = np.where(sign > 0, s(etaplus), np.where(sign < 0, s(etaminus),
                                                         np.where(sign == 0, s(1), sign)))
        size[...] = np.clip(size * factor, s(step_size_min), s(step_size_max))
        g = np.where(factor == s(etaminus), s(0), g)
        p += s(-1) * np.sign(g) * size
        prev[...] = g
