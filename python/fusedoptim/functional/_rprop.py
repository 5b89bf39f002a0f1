"""Rprop (torch.optim.Rprop)."""
from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._kernel import ID, flags, kernel_scalars, run, scalar_packer

_pack = scalar_packer("rprop")


@kernel_scalars("rprop", by_step=False)
def rprop_scalars(step: int | None, etaminus: float, etaplus: float, step_size_min: float,
                  step_size_max: float, lr: float | None = None, **_: Any) -> tuple[float, ...]:
    # lr only seeds the step sizes and is no scalar of the kernel; it is a parameter here so
    # that a reused plan (optim/_fast.py) still evaluates and checks a callable lr at every
    # step, as the general path does.
    return _pack(etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
                 step_size_max=step_size_max)


def rprop_work(params: ArrayList, grads: ArrayList, prevs: ArrayList, step_sizes: ArrayList, *,
               step_size_min: float = 1e-6, step_size_max: float = 50.0, etaminus: float = 0.5,
               etaplus: float = 1.2, maximize: bool = False, names: Names = None) -> Work:
    etaminus = C.real("etaminus", etaminus)
    etaplus = C.real("etaplus", etaplus)
    if not 0.0 < etaminus < 1.0 < etaplus:
        raise ValueError(f"etas: need 0 < etaminus < 1 < etaplus, got ({etaminus}, {etaplus})")
    step_size_min = C.nonneg("step_size_min", step_size_min)
    step_size_max = C.nonneg("step_size_max", step_size_max)
    if step_size_min > step_size_max:
        raise ValueError(f"step_sizes: min {step_size_min} is larger than max {step_size_max}")
    return (ID["rprop"], flags("rprop", maximize=maximize),
            rprop_scalars(None, etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
                          step_size_max=step_size_max), (params, grads, prevs, step_sizes),
            names)


def rprop(params: ArrayList, grads: ArrayList, prevs: ArrayList, step_sizes: ArrayList, *,
          step_size_min: float = 1e-6, step_size_max: float = 50.0, etaminus: float = 0.5,
          etaplus: float = 1.2, maximize: bool = False) -> None:
    r"""Rprop, as torch.optim.Rprop. ``prevs`` start at zero and ``step_sizes`` at lr.

    .. math::
        s = \operatorname{sign}(g \cdot g_{prev}); \quad
        \Delta \leftarrow \operatorname{clip}(\Delta \cdot \{\eta^+, \eta^-, 1\}_s,
        \Delta_{min}, \Delta_{max}) \\
        g \leftarrow 0 \text{ where } s < 0; \quad p \leftarrow p - \operatorname{sign}(g)\Delta;
        \quad g_{prev} \leftarrow g
    """
    run([rprop_work(params, grads, prevs, step_sizes, step_size_min=step_size_min,
                            step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus,
                            maximize=maximize)])
