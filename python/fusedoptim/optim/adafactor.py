from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import _checks as C
from ..functional._adafactor import adafactor_hparams
from .._typing import BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern 2018), torch.optim.Adafactor's arithmetic, keywords
    and defaults (``foreach`` aside: there is one implementation).

    .. math::
        \rho_t &= \min(\gamma, 1/\sqrt{t}), \quad
        \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t, \quad
        \theta \leftarrow \theta (1 - \gamma\lambda) \\
        R_t &= \mathrm{lerp}(R_{t-1}, \mathrm{mean}_j\, G_t^2, t^{\tau}), \quad
        C_t = \mathrm{lerp}(C_{t-1}, \mathrm{mean}_i\, G_t^2, t^{\tau}), \quad
        \hat V_t = R_t C_t / \max(\mathrm{mean}_i R_t, \epsilon_1) \\
        U_t &= G_t / \sqrt{\max(\hat V_t, \epsilon_1^2)}, \quad
        \theta_t = \theta - \frac{\alpha_t}{\max(1, \mathrm{RMS}(U_t)/d)} U_t

    (``maximize``: G is the negated gradient; a vector or 0-d param keeps a full
    :math:`\hat V_t = \mathrm{lerp}(\hat V_{t-1}, G_t^2, t^{\tau})`). A param of 2 or more
    dimensions is factored over its last two axes, the leading ones being a batch (a
    convolution's (out, in, kh, kw) keeps kh + kw values per (out, in) pair). State:
    ``step``, ``row_var`` (shape ``p.shape[:-1] + (1,)``) and ``col_var``
    (``p.shape[:-2] + (1, n)``), or ``variance``. ``eps=(None, 1e-3)``: None is the
    param dtype's machine epsilon. NumPy arrays only (no CUDA kernels yet).

    float32 and float64 params only (its kernels are its own): float16 and bfloat16 params
    are refused, and ``state_dtype`` may only be None or the params' own dtype.
    """

    _buffer_names = ("row_var", "col_var", "variance")
    _multi_pass = True

    def __init__(self, params: Params, lr: LR = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_state_dtype(self, arrays: list[Any], names: list[str]) -> None:
        """Adafactor's native step (its own kernels, csrc/optimizers/adafactor_*) runs on
        float32 and float64 only, its statistics in the param's dtype: 16-bit params and
        any other state dtype are refused here, by name, before anything is made."""
        self._refuse_16_bit(arrays, names, "its kernels are its own", params_too=True)
        for p, name in zip(arrays, names):
            if self.state_dtype is not None and self.state_dtype != p.dtype:
                raise ValueError(f"state_dtype: Adafactor keeps its statistics in the param's "
                                 f"dtype ({p.dtype} for params[{name}]), got {self.state_dtype}")

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        eps1, eps2 = C.pair(label("eps"), group["eps"])
        try:
            return adafactor_hparams(group["lr"], group["beta2_decay"], eps1, eps2, group["d"],
                                     group["weight_decay"], group["maximize"])
        except (TypeError, ValueError) as e:  # name the group's key, as the other classes do
            key, _, rest = str(e).partition(": ")
            where = label("eps") + key[3:] if key.startswith("eps[") else label(key)
            raise type(e)(f"{where}: {rest}") from None

    def _buffer_shape(self, name: str, p: Any) -> tuple[int, ...]:
        shape = tuple(p.shape)
        if name == "row_var":
            return shape[:-1] + (1,)
        if name == "col_var":
            return shape[:-2] + (1,) + shape[-1:]
        return shape

    def _buffers_of(self, p: Any) -> tuple[str, ...]:
        return ("row_var", "col_var") if len(p.shape) >= 2 else ("variance",)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        def init(name: str) -> Any:
            def make(p: Any) -> Any:
                if name not in self._buffers_of(p):
                    return None
                return np.zeros(self._buffer_shape(name, p), dtype=self._state_dtype_of(p))
            return make
        return tuple((name, init(name)) for name in self._buffer_names)

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        return ("adafactor", (params, grads, bufs["row_var"], bufs["col_var"],
                              bufs["variance"], key), dict(h, names=names))

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """As the base class, and each param's buffers are the ones its dimensions keep
        (row_var and col_var for 2 or more, variance otherwise), all of them or none."""
        params = [p for g in self.param_groups for p in g["params"]]
        state = state_dict.get("state") if isinstance(state_dict, Mapping) else None
        if isinstance(state, Mapping):
            for key, entries in state.items():
                if (isinstance(key, bool) or not isinstance(key, (int, np.integer))
                        or not 0 <= key < len(params) or not isinstance(entries, Mapping)):
                    continue  # the base class names the problem
                want = self._buffers_of(params[key])
                have = [n for n in self._buffer_names if entries.get(n) is not None]
                if have and sorted(have) != sorted(want):
                    raise ValueError(
                        f"state_dict['state'][{key}]: a param of shape {tuple(params[key].shape)} "
                        f"keeps {' and '.join(want)}, got {', '.join(have)}")
        super().load_state_dict(state_dict)
