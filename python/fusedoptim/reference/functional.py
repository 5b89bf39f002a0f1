"""Pure NumPy twin of :mod:`fusedoptim.functional`: the oracle of the tests and the
NumPy baseline of the benchmarks.

Written straight from torch.optim's update rules, one tensor at a time, for
readability; same signatures as fusedoptim.functional. Arrays are checked by the
same native checks (nothing changes unless every array is acceptable), the
arithmetic is NumPy's.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _native
from .. import functional as F
from .._typing import Names
from ._fma import fma
from ._half import opmath
from ._muon import muon  # noqa: F401 - the twin of functional.muon


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w),
    the multiply-add rounded once as torch's CPU kernels do."""
    if abs(weight) < 0.5:
        return fma(weight, end - start, start)
    return fma(-(end - start), 1 - weight, end)


def _scalar(x: float, like: np.ndarray) -> Any:
    """A Python float as the array's dtype, as torch casts scalar arguments."""
    return like.dtype.type(x)


@opmath
def sgd(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
        momentum_buffers: Any, *, lr: float, momentum: float = 0.0,
        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
        maximize: bool = False, first_step: bool = False, names: Names = None) -> None:
    """``first_step=True`` (used by the optimizer classes, which allocate buffers up
    front) fills the given buffers with the gradient, as a None entry would."""
    kw: dict[str, Any] = dict(lr=lr, momentum=momentum, dampening=dampening,
                              weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
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


@opmath
def adagrad(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
            state_sums: Sequence[np.ndarray], step: int, *, lr: float, weight_decay: float = 0.0,
            lr_decay: float = 0.0, eps: float = 1e-10, maximize: bool = False,
            names: Names = None) -> None:
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


@opmath
def rmsprop(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
            square_avgs: Sequence[np.ndarray], grad_avgs: Any,
            momentum_buffers: Any, *, lr: float, alpha: float = 0.99,
            eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
            centered: bool = False, maximize: bool = False, names: Names = None) -> None:
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


@opmath
def adam(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
         exp_avg_sqs: Sequence[np.ndarray], max_exp_avg_sqs: Any, step: int,
         *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
         weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
         decoupled_weight_decay: bool = False, names: Names = None) -> None:
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


@opmath
def adamw(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
          exp_avg_sqs: Sequence[np.ndarray], max_exp_avg_sqs: Any,
          step: int, *, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False) -> None:
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr=lr, beta1=beta1,
         beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
         decoupled_weight_decay=True)


@opmath
def rprop(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], prevs: Sequence[np.ndarray],
          step_sizes: Sequence[np.ndarray], *, step_size_min: float = 1e-6,
          step_size_max: float = 50.0, etaminus: float = 0.5, etaplus: float = 1.2,
          maximize: bool = False, names: Names = None) -> None:
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


@opmath
def adamax(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
           exp_avgs: Sequence[np.ndarray], exp_infs: Sequence[np.ndarray], step: int, *, lr: float,
           beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
           maximize: bool = False, names: Names = None) -> None:
    _native.validate([F.adamax_work(params, grads, exp_avgs, exp_infs, step, lr=lr, beta1=beta1,
                                    beta2=beta2, eps=eps, weight_decay=weight_decay,
                                    maximize=maximize)])
    clr = lr / (1 - beta1 ** step)
    for p, g, m, u in zip(params, grads, exp_avgs, exp_infs):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + s(weight_decay) * p
        m[...] = _lerp(m, g, s(1 - beta1))
        np.maximum(u * s(beta2), np.abs(g) + s(eps), out=u)
        p += s(-clr) * m / u


@opmath
def nadam(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
          exp_avg_sqs: Sequence[np.ndarray], mu_product: float, step: int, *, lr: float,
          beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
          momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False,
          maximize: bool = False, names: Names = None) -> float:
    _native.validate([F.nadam_work(params, grads, exp_avgs, exp_avg_sqs, mu_product, step, lr=lr,
                                   beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                   momentum_decay=momentum_decay,
                                   decoupled_weight_decay=decoupled_weight_decay,
                                   maximize=maximize)])
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = float(np.float32(mu_product) * np.float32(mu))  # torch's float32 state
    bias_correction2 = 1 - beta2 ** step
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= s(1 - lr * weight_decay)
            else:
                g = g + s(weight_decay) * p
        m[...] = _lerp(m, g, s(1 - beta1))
        v[...] = v * s(beta2) + s(1 - beta2) * g * g
        denom = np.sqrt(v / s(bias_correction2)) + s(eps)
        p += s(-lr * (1 - mu) / (1 - mu_product)) * g / denom
        p += s(-lr * mu_next / (1 - mu_product * mu_next)) * m / denom
    return mu_product


@opmath
def radam(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
          exp_avg_sqs: Sequence[np.ndarray], step: int, *, lr: float, beta1: float = 0.9,
          beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
          decoupled_weight_decay: bool = False, maximize: bool = False,
          names: Names = None) -> None:
    _native.validate([F.radam_work(params, grads, exp_avgs, exp_avg_sqs, step, lr=lr, beta1=beta1,
                                   beta2=beta2, eps=eps, weight_decay=weight_decay,
                                   decoupled_weight_decay=decoupled_weight_decay,
                                   maximize=maximize)])
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        if weight_decay != 0:
            if decoupled_weight_decay:
                p *= s(1 - lr * weight_decay)
            else:
                g = g + s(weight_decay) * p
        m[...] = _lerp(m, g, s(1 - beta1))
        v[...] = v * s(beta2) + s(1 - beta2) * g * g
        update = m / s(bias_correction1) * s(lr)
        if rho_t > 5:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            update = update * (s(bias_correction2 ** 0.5) / (np.sqrt(v) + s(eps))) * s(rect)
        p -= update


@opmath
def adadelta(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
             square_avgs: Sequence[np.ndarray], acc_deltas: Sequence[np.ndarray], *,
             lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0,
             maximize: bool = False, names: Names = None) -> None:
    _native.validate([F.adadelta_work(params, grads, square_avgs, acc_deltas, lr=lr, rho=rho,
                                      eps=eps, weight_decay=weight_decay, maximize=maximize)])
    for p, g, v, a in zip(params, grads, square_avgs, acc_deltas):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + s(weight_decay) * p
        v[...] = v * s(rho) + s(1 - rho) * g * g
        delta = np.sqrt(a + s(eps)) / np.sqrt(v + s(eps)) * g
        a[...] = a * s(rho) + s(1 - rho) * delta * delta
        p += s(-lr) * delta


@opmath
def asgd(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], axs: Sequence[np.ndarray],
         step: int, *, eta: float, mu: float, lr: float = 1e-2, lambd: float = 1e-4,
         alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0, maximize: bool = False,
         names: Names = None) -> tuple[float, float]:
    _native.validate([F.asgd_work(params, grads, axs, step, eta=eta, mu=mu, lr=lr, lambd=lambd,
                                  alpha=alpha, t0=t0, weight_decay=weight_decay,
                                  maximize=maximize)])
    for p, g, ax in zip(params, grads, axs):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + s(weight_decay) * p
        p *= s(1 - lambd * eta)
        p += s(-eta) * g
        if mu != 1:
            ax += (p - ax) * s(mu)
        else:
            ax[...] = p
    eta = lr / (1 + lambd * lr * step) ** alpha
    return float(np.float32(eta)), float(np.float32(1 / max(1, step - t0)))


@opmath
def lion(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
         *, lr: float, beta1: float = 0.9, beta2: float = 0.99, weight_decay: float = 0.0,
         maximize: bool = False, names: Names = None) -> None:
    _native.validate([F.lion_work(params, grads, exp_avgs, lr=lr, beta1=beta1, beta2=beta2,
                                  weight_decay=weight_decay, maximize=maximize)])
    for p, g, m in zip(params, grads, exp_avgs):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        update = np.sign(s(beta1) * m + s(1 - beta1) * g)
        if weight_decay != 0:
            p *= s(1 - lr * weight_decay)
        p += s(-lr) * update
        m[...] = s(beta2) * m + s(1 - beta2) * g


def _trust_ratio(p: np.ndarray, u: np.ndarray, coefficient: float = 1.0,
                 eps: float = 0.0) -> float:
    """optax.scale_by_trust_ratio for one tensor: c ||p|| / (||u|| + eps), 1 if a norm is 0."""
    pn, un = float(np.linalg.norm(p)), float(np.linalg.norm(u))
    return 1.0 if pn == 0 or un == 0 else coefficient * pn / (un + eps)


@opmath
def lamb(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
         exp_avg_sqs: Sequence[np.ndarray], step: int, *, lr: float, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-6, weight_decay: float = 0.0,
         maximize: bool = False, names: Names = None) -> None:
    _native.validate([F.lamb_work(params, grads, exp_avgs, exp_avg_sqs, step, lr=lr, beta1=beta1,
                                  beta2=beta2, eps=eps, weight_decay=weight_decay,
                                  maximize=maximize)])
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        m[...] = s(1 - beta1) * g + s(beta1) * m
        v[...] = s(1 - beta2) * (g * g) + s(beta2) * v
        u = (m / s(1 - beta1 ** step)) / (np.sqrt(v / s(1 - beta2 ** step)) + s(eps))
        if weight_decay != 0:
            u = u + s(weight_decay) * p
        p += s(-lr) * (u * s(_trust_ratio(p, u)))


@opmath
def lars(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
         momentum_buffers: Sequence[np.ndarray], *, lr: float, momentum: float = 0.9,
         weight_decay: float = 0.0, trust_coefficient: float = 1e-3, eps: float = 0.0,
         nesterov: bool = False, maximize: bool = False, names: Names = None) -> None:
    _native.validate([F.lars_work(params, grads, momentum_buffers, lr=lr, momentum=momentum,
                                  weight_decay=weight_decay, trust_coefficient=trust_coefficient,
                                  eps=eps, nesterov=nesterov, maximize=maximize)])
    for p, g, b in zip(params, grads, momentum_buffers):
        s = lambda x: _scalar(x, p)  # noqa: E731
        g = -g if maximize else g
        u = g + s(weight_decay) * p if weight_decay != 0 else g
        u = s(-lr) * (u * s(_trust_ratio(p, u, trust_coefficient, eps)))
        b[...] = u + s(momentum) * b
        p += u + s(momentum) * b if nesterov else b
from ._adafactor import adafactor  # noqa: E402,F401  (Adafactor's twin: its own module)
from ._eightbit import blockwise8  # noqa: E402,F401  (the 8-bit optimizers' twin)
