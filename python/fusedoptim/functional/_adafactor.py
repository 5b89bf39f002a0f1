"""Adafactor (Shazeer & Stern 2018, "Adaptive Learning Rates with Sublinear Memory
Cost"), with torch.optim.Adafactor's arithmetic: a step of three native passes, not one
(see :func:`adafactor`)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from .. import _backends
from .. import _checks as C
from .. import _native
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, scalar_packer

_pack = scalar_packer("adafactor")

#: the kernel's code for eps1=None: each param's dtype's machine epsilon
DTYPE_EPS = -1.0

#: a list of optional state arrays, one entry per param (None where it keeps no such buffer)
OptArrays = Sequence[Optional[Any]]


@kernel_scalars("adafactor", by_step=True)
def adafactor_scalars(step: int, lr: float, beta2_decay: float, eps1: float | None, eps2: float,
                      d: float, weight_decay: float, **_: Any) -> tuple[float, ...]:
    """lr, w = t^beta2_decay, rho = min(lr, 1/sqrt(t)) (Python's min, as torch), eps1 (or
    DTYPE_EPS), eps2, d, weight_decay."""
    t = float(step)
    return _pack(lr=lr, one_minus_beta2=t ** beta2_decay, rho=min(lr, 1 / t ** 0.5),
                 eps1=DTYPE_EPS if eps1 is None else eps1, eps2=eps2, d=d,
                 weight_decay=weight_decay)


def adafactor_hparams(lr: Any, beta2_decay: Any, eps1: Any, eps2: Any, d: Any,
                      weight_decay: Any, maximize: Any) -> dict[str, Any]:
    """The checked hyperparameters, each error naming its keyword (torch's bounds)."""
    lr = C.nonneg("lr", lr)
    beta2_decay = C.real("beta2_decay", beta2_decay)
    if not beta2_decay <= 0.0:
        raise ValueError(f"beta2_decay: must be <= 0, got {beta2_decay!r}")
    eps1 = None if eps1 is None else C.nonneg("eps[0]", eps1)
    eps2 = C.nonneg("eps[1]", eps2)
    d = C.real("d", d)
    if not d >= 1.0:
        raise ValueError(f"d: the clipping threshold must be >= 1, got {d!r}")
    weight_decay = C.nonneg("weight_decay", weight_decay)
    C.decoupled_decay(lr, weight_decay)
    return dict(lr=lr, beta2_decay=beta2_decay, eps1=eps1, eps2=eps2, d=d,
                weight_decay=weight_decay, maximize=C.flag("maximize", maximize))


def adafactor_work(params: ArrayList, grads: ArrayList, row_vars: OptArrays, col_vars: OptArrays,
                   variances: OptArrays, step: int, *, lr: float = 1e-2, beta2_decay: float = -0.8,
                   eps1: float | None = None, eps2: float = 1e-3, d: float = 1.0,
                   weight_decay: float = 0.0, maximize: bool = False, names: Names = None) -> Work:
    """Checks everything a step touches (hyperparameters, every array, the state arrays'
    shapes) and changes nothing; the work names the params and grads for the checks
    across calls. Adafactor runs through :func:`adafactor`, never a reusable plan."""
    h = adafactor_hparams(lr, beta2_decay, eps1, eps2, d, weight_decay, maximize)
    step = C.step_count("step", step)
    if _backends.for_arrays(params).name != "host":
        raise NotImplementedError(
            "Adafactor runs on NumPy arrays only: its row and column reductions have no CUDA "
            "kernels yet; give device params to another optimizer")
    _native._core.adafactor_check(params, grads, row_vars, col_vars, variances, names)
    return (ID["adafactor"], flags("adafactor", maximize=h["maximize"]),
            adafactor_scalars(step, **h), (params, grads), names)


def adafactor(params: ArrayList, grads: ArrayList, row_vars: OptArrays, col_vars: OptArrays,
              variances: OptArrays, step: int, *, lr: float = 1e-2, beta2_decay: float = -0.8,
              eps1: float | None = None, eps2: float = 1e-3, d: float = 1.0,
              weight_decay: float = 0.0, maximize: bool = False, names: Names = None) -> None:
    r"""Adafactor as torch.optim.Adafactor, step number ``step`` (>= 1) for every param.
    A param of 2 or more dimensions keeps ``row_vars[i]`` (shape ``p.shape[:-1] + (1,)``)
    and ``col_vars[i]`` (``p.shape[:-2] + (1, n)``), factored over its last two axes (the
    leading ones are a batch); a vector or 0-d param keeps ``variances[i]`` (its shape).
    The other entries are None. All start at zero.

    .. math::
        w &= t^{\tau}, \quad \rho = \min(\gamma, 1/\sqrt{t}), \quad
        \alpha = \max(\epsilon_2, \mathrm{RMS}(\theta))\,\rho, \quad
        \theta \leftarrow \theta (1 - \gamma\lambda) \\
        R &\leftarrow \mathrm{lerp}(R, \mathrm{mean}_j\, g^2, w), \quad
        C \leftarrow \mathrm{lerp}(C, \mathrm{mean}_i\, g^2, w), \quad
        V = R C / \max(\mathrm{mean}_i R, \epsilon_1)
        \quad (\text{vectors: } V \leftarrow \mathrm{lerp}(V, g^2, w)) \\
        u &= g / \sqrt{\max(V, \epsilon_1^2)}, \quad
        \theta \leftarrow \theta - \frac{\alpha}{\max(1, \mathrm{RMS}(u)/d)} u

    with g negated under ``maximize``, RMS(x) = ||x|| / sqrt(numel), and eps1=None meaning
    the param dtype's machine epsilon (torch's single-tensor loop takes the first param's
    for all). Native passes over all params at once: 1 reads p and g (||p||, row and
    column sums, R, C, V updated, and ||u|| where a whole matrix fits in a work unit),
    2 reads g of matrices larger than a unit (||u||), 3 writes p. Sums are float64,
    combined in a fixed order: the same result for any thread count.
    """
    work = adafactor_work(params, grads, row_vars, col_vars, variances, step, lr=lr,
                          beta2_decay=beta2_decay, eps1=eps1, eps2=eps2, d=d,
                          weight_decay=weight_decay, maximize=maximize, names=names)
    s = dict(zip(_native.SPECS["adafactor"]["scalars"], work[2]))
    _native._core.adafactor_step(params, grads, row_vars, col_vars, variances,
                                 maximize=bool(maximize), names=names, **s)
