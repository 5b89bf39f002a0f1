from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class Rprop(Optimizer):
    r"""Resilient backpropagation, as torch.optim.Rprop.

    .. math::
        s &= \operatorname{sign}(g_t\, g_{t-1}), \qquad
        \Delta_t \leftarrow \operatorname{clip}(\Delta_{t-1}\,\eta_s,\
            \Delta_{min}, \Delta_{max}),\
            \eta_s = \eta^+ (s>0),\ \eta^- (s<0),\ 1 (s=0) \\
        g_t &\leftarrow 0 \text{ where } s < 0, \qquad
        \theta_t \leftarrow \theta_{t-1} - \operatorname{sign}(g_t)\,\Delta_t

    Step sizes start at lr; after a sign change the step is skipped and the
    gradient remembered as 0, so the next step is not shrunk again.
    """

    _buffer_names = ("prev", "step_size")

    def __init__(self, params: Params, lr: LR = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        etas = C.pair(label("etas"), group["etas"])
        sizes = C.pair(label("step_sizes"), group["step_sizes"])
        etaminus, etaplus = C.real(label("etas") + "[0]", etas[0]), C.real(label("etas") + "[1]",
                                                                           etas[1])
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"{label('etas')}: need 0 < etaminus < 1 < etaplus, got {etas!r}")
        lo = C.nonneg(label("step_sizes") + "[0]", sizes[0])
        hi = C.nonneg(label("step_sizes") + "[1]", sizes[1])
        if lo > hi:
            raise ValueError(f"{label('step_sizes')}: min {lo} is larger than max {hi}")
        return dict(lr=C.nonneg(label("lr"), group["lr"]), etaminus=etaminus, etaplus=etaplus,
                    step_size_min=lo, step_size_max=hi,
                    maximize=C.flag(label("maximize"), group["maximize"]))

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        lr = h["lr"]
        return (("prev", self._zeros_like), ("step_size", lambda p: self._full_like(p, lr)))

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], step: int, names: list[str]) -> Call:
        kw = {k: v for k, v in h.items() if k != "lr"}
        return ("rprop", (params, grads, bufs["prev"], bufs["step_size"]), dict(kw, names=names))
