from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from ._state import GroupState
from .base import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad, as torch.optim.Adagrad.

    .. math::
        g_t &\leftarrow \pm g_t + \lambda \theta_{t-1}, \qquad
        \tilde\eta_t = \eta / (1 + (t-1)\,\text{lr\_decay}) \\
        s_t &\leftarrow s_{t-1} + g_t^2 \quad (s_0 = \text{initial\_accumulator\_value}) \\
        \theta_t &\leftarrow \theta_{t-1} - \tilde\eta_t\, g_t / (\sqrt{s_t} + \epsilon)
    """

    _buffer_names = ("sum",)

    def __init__(self, params: Params, lr: LR = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False, state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        C.nonneg(label("initial_accumulator_value"), group["initial_accumulator_value"])
        return dict(lr=C.nonneg(label("lr"), group["lr"]),
                    lr_decay=C.nonneg(label("lr_decay"), group["lr_decay"]),
                    weight_decay=C.nonneg(label("weight_decay"), group["weight_decay"]),
                    eps=C.nonneg(label("eps"), group["eps"]),
                    maximize=C.flag(label("maximize"), group["maximize"]))

    def _init_state(self, gs: GroupState, group: dict[str, Any]) -> None:
        # torch creates Adagrad's state with the optimizer, not at the first step.
        value = group["initial_accumulator_value"]
        gs.buffers["sum"] = [self._full_like(p, value) for p in group["params"]]

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("sum", self._zeros_like),)  # only for params whose state was dropped

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], step: int, names: list[str]) -> Call:
        return ("adagrad", (params, grads, bufs["sum"], step), dict(h, names=names))
