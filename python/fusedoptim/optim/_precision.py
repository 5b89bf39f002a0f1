"""The dtypes of an optimizer's state and what depends on them, for optim.base.Optimizer:
``state_dtype`` (the dtype of every state buffer), ``master_weights`` (a float32 copy of
each 16-bit param, the state entry ``master_param``), the optimizers that refuse 16-bit
state, and the unscaled copies of the grads that loss scaling falls back to.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _half
from .._stochastic import store
from ._state import GroupState

#: the state entry of a 16-bit param's float32 master copy (master_weights=True)
MASTER = "master_param"


class Precision:
    """Mixed into Optimizer; reads its state_dtype, master_weights, _buffer_names and
    _backend."""

    state_dtype: Any
    master_weights: bool
    _buffer_names: tuple[str, ...]
    _backend: Any

    def _check_state_dtype(self, arrays: list[Any], names: list[str]) -> None:
        """state_dtype against the params' dtypes: float64 params keep float64 state (or
        None), other params float32, float16 or bfloat16 state."""
        sd = self.state_dtype
        if sd is None:
            return
        for p, name in zip(arrays, names):
            is64 = str(p.dtype).removeprefix("torch.") == "float64"
            if is64 != (sd == np.float64):
                want = ("None or np.float64" if is64 else
                        "None, np.float32, np.float16 or ml_dtypes.bfloat16")
                raise ValueError(f"state_dtype: {sd} is not a state dtype for param {name} of "
                                 f"dtype {p.dtype}: state_dtype must be {want} for its params")

    def _refuse_16_bit(self, arrays: list[Any], names: list[str], why: str,
                       params_too: bool = False) -> None:
        """For the optimizers that cannot keep 16-bit state (a pass re-reads it, or their
        kernels are their own): 16-bit state, and with ``params_too`` 16-bit params,
        refused by name before anything is made. ``why`` says why."""
        cls = type(self).__name__
        for p, name in zip(arrays, names):
            if params_too and _half.is_half(p.dtype):
                raise TypeError(f"params[{name}]: {cls} runs on float32 and float64 params only, "
                                f"got {p.dtype} ({why})")
            sd = self._state_dtype_of(p)
            if _half.is_half(sd):
                hint = "; pass state_dtype=np.float32" if _half.is_half(p.dtype) else ""
                raise ValueError(f"state_dtype: {cls} keeps its state in float32 or float64 "
                                 f"({why}), got {sd} for params[{name}]{hint}")

    def _state_names(self, p: Any) -> tuple[str, ...]:
        """The state buffers param ``p`` may have: the class's, and its master copy."""
        if self.master_weights and _half.is_half(p.dtype):
            return self._buffer_names + (MASTER,)
        return self._buffer_names

    def _buffer_dtype(self, name: str, p: Any) -> Any:
        """The dtype of p's buffer ``name``: float32 for its master copy, else the state's."""
        return np.dtype(np.float32) if name == MASTER else self._state_dtype_of(p)

    def _state_dtype_of(self, p: Any) -> Any:
        """The dtype of p's state buffers: state_dtype, else p's own."""
        return p.dtype if self.state_dtype is None else self.state_dtype

    # State buffers are made by the backend: NumPy arrays, or device arrays next to the
    # param, in the state dtype (state_dtype, else the param's: None passed on).
    def _zeros_like(self, p: Any) -> Any:
        return self._backend.zeros_like(p, dtype=self.state_dtype)

    def _empty_like(self, p: Any) -> Any:
        return self._backend.empty_like(p, dtype=self.state_dtype)

    def _full_like(self, p: Any, value: float) -> Any:
        return self._backend.full_like(p, value, dtype=self.state_dtype)

    def _new_masters(self, params: list[Any], gs: GroupState, active: list[int],
                     new: dict[tuple[str, int], Any]) -> bool:
        """With master_weights: a float32 copy of each active 16-bit param that has none
        yet, made from it (into ``new``, stored once the step succeeds). Returns whether
        this group's calls carry master copies."""
        if not (self.master_weights and any(_half.is_half(params[j].dtype) for j in active)):
            return False
        lst = gs.buffer(MASTER)
        for j in active:
            p = params[j]
            if lst[j] is None and _half.is_half(p.dtype):
                # via a host copy for a device param (made once per param)
                new[MASTER, j] = self._backend.from_numpy(self._backend.to_numpy(p), p,
                                                          np.float32)
        return True

    def _unscaled(self, g: Any, grad_scale: float) -> Any:
        """g / grad_scale as a new array of g's dtype (g itself is only read); what is not
        a float array is left for the checks to name."""
        if not self._backend.is_array(g) or not (getattr(g.dtype, "kind", None) == "f"
                                                 or _half.is_bfloat16(g.dtype)):
            return g
        out = g / g.dtype.type(grad_scale)
        return out if self._backend.is_array(out) else np.asarray(out)  # 0-d: NumPy gives a scalar


    # Stochastic rounding's entries of a state_dict: the seed, and for the optimizers that
    # keep no torch "step" entry the step counts its keys use (kept nowhere else).
    stochastic_rounding: bool
    rounding_seed: int
    _has_step: bool
    _groups: list[GroupState]

    def _rounding_entries(self) -> dict[str, Any]:
        """The state_dict entries of stochastic rounding (none when it is off)."""
        if not self.stochastic_rounding:
            return {}
        out: dict[str, Any] = {"rounding_seed": self.rounding_seed}
        if not self._has_step:
            out["rounding_steps"] = [s for gs in self._groups for s in gs.steps]
        return out

    @staticmethod
    def _loaded_rounding(state_dict: Any, n_params: int) -> tuple[int | None, list[int] | None]:
        """A loaded state_dict's ``rounding_seed`` and ``rounding_steps`` (None where absent),
        checked; nothing changes."""
        seed = state_dict.get("rounding_seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed < 2**64):
            raise ValueError("state_dict['rounding_seed']: expected an int in [0, 2**64), got "
                             f"{seed!r}")
        rsteps = state_dict.get("rounding_steps")
        if rsteps is not None and (
                not isinstance(rsteps, (list, tuple)) or len(rsteps) != n_params
                or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0
                       for s in rsteps)):
            raise ValueError("state_dict['rounding_steps']: expected one count >= 0 per param, "
                             f"got {rsteps!r}")
        return (None if seed is None else int(seed),
                None if rsteps is None else [int(x) for x in rsteps])


def on_masters(fn: Callable[..., Any], args: Sequence[Any], kw: dict[str, Any],
               masters: list[Any]) -> None:
    """The reference's step of one call with master copies: the formula on the copies
    (float32 grads read exactly from the 16-bit ones), then each param written as its
    copy's rounding, as the native kernels store it."""
    params, grads = args[0], args[1]
    wide_p = [p if m is None else m for p, m in zip(params, masters)]
    wide_g = [g if m is None else g.astype(np.float32) for g, m in zip(grads, masters)]
    fn(wide_p, wide_g, *args[2:], **kw)
    for p, m in zip(params, masters):
        if m is not None:
            store(p, m)  # rounded to nearest even, or stochastically (stochastic_rounding)
