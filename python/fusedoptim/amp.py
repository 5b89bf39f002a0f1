"""Loss scaling for training in reduced precision: :class:`GradScaler`.

A small loss times a small learning signal underflows in float16: scaling the loss by
S before backprop scales every gradient by S too, and the optimizer divides it out.
``GradScaler`` keeps S as torch.amp.GradScaler does: it halves S (``backoff_factor``)
after a step whose grads held an inf or NaN, which the optimizer skips, and doubles it
(``growth_factor``) after ``growth_interval`` finite steps in a row. The scale is a
float32 value updated with float32 rounding, as torch keeps it.

The fused optimizers take the scale themselves: ``GradScaler.step`` runs one native
finiteness check over all the grads, then ``optimizer.step(grads, grad_scale=S,
found_inf=...)``, whose kernels read ``g / S`` on the fly; the grads are not written.
To clip the true gradients, call ``unscale_`` first: it multiplies the grads by 1/S in
place, and the step then does not unscale again.

    scaler = fusedoptim.amp.GradScaler()
    for x, y in batches:
        loss, grads = loss_and_grads(params, x, y, loss_scale=scaler.get_scale())
        scaler.unscale_(opt, grads)          # optional: only to clip
        fusedoptim.clip_grad_norm_(grads, 1.0)
        scaler.step(opt, grads)              # skipped if any grad is inf or NaN
        scaler.update()
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from . import _checks as C
from .clip import all_finite
from .vector import scale_


class _Stage(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _grad_list(grads: Any) -> list[Any]:
    """The grads' arrays (a list, tuple or dict of arrays; None entries left out)."""
    if isinstance(grads, Mapping):
        values = list(grads.values())
    elif isinstance(grads, (list, tuple)):
        values = list(grads)
    else:
        raise TypeError("grads: expected a list of arrays or a dict, got "
                        f"{type(grads).__name__}")
    return [g for g in values if g is not None]


def _factor(name: str, value: Any, lo: float, hi: float) -> float:
    """A finite factor strictly between lo and hi (either may be inf)."""
    v = C.real(name, value)
    if not lo < v < hi:
        raise ValueError(f"{name}: must be in ({lo}, {hi}), got {value!r}")
    return v


def _interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"growth_interval: expected an int >= 1, got {value!r}")
    return int(value)


def _scale_value(name: str, value: Any) -> np.float32:
    """A scale as the float32 it is kept in: finite and > 0 once rounded."""
    v = C.real(name, C._scalar_of(value))
    with np.errstate(over="ignore"):  # beyond float32: inf, refused below
        s = np.float32(v)
    if not (s > 0 and math.isfinite(s)):
        raise ValueError(f"{name}: must be a number > 0 that is finite in float32, got {value!r}")
    return s


class GradScaler:
    """torch.amp.GradScaler for fusedoptim's optimizers and NumPy gradients.

    ``init_scale``: the first scale S. ``growth_factor`` (> 1): S is multiplied by it
    after ``growth_interval`` consecutive steps without inf/NaN grads.
    ``backoff_factor`` (in (0, 1)): S is multiplied by it after a step with inf/NaN
    grads, which is skipped. ``enabled=False`` makes every method a pass-through
    (``scale`` returns its input, ``step`` is ``optimizer.step(grads)``).

    Per optimizer, the calls between two ``update()`` go ``unscale_`` (optional, once),
    then ``step`` (once); ``update`` ends the iteration for all optimizers.
    """

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        self._enabled = C.flag("enabled", enabled)
        self._scale = _scale_value("init_scale", init_scale)
        self._growth_factor = _factor("growth_factor", growth_factor, 1.0, math.inf)
        self._backoff_factor = _factor("backoff_factor", backoff_factor, 0.0, 1.0)
        self._growth_interval = _interval(growth_interval)
        self._growth_tracker = 0
        # id(optimizer) -> [stage, found_inf] for this iteration (torch keys by id too)
        self._per_optimizer: dict[int, list[Any]] = {}

    # ------------------------------------------------------------------ scaling
    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a number, an array, or a list/tuple of them) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, (np.ndarray, np.generic)):
            return np.multiply(outputs, self._scale)
        if isinstance(outputs, numbers.Real) and not isinstance(outputs, bool):
            return float(outputs) * float(self._scale)
        raise TypeError(f"outputs: expected a number, an array or a list of them, got "
                        f"{type(outputs).__name__}")

    def _state(self, optimizer: Any) -> list[Any]:
        return self._per_optimizer.setdefault(id(optimizer), [_Stage.READY, False])

    def unscale_(self, optimizer: Any, grads: Any) -> None:
        """Divide ``grads`` (the grads ``optimizer`` will step with) by the scale in place
        (times the float32 reciprocal, as torch does) and record whether any is inf or
        NaN. Call it before clipping; ``step`` then does not unscale again."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state[0] is _Stage.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state[0] is _Stage.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        arrays = _grad_list(grads)
        inv_scale = float(np.float32(1.0 / np.float64(self._scale)))
        found = not all_finite(arrays) if arrays else False
        if arrays:
            scale_(arrays, inv_scale)  # checks every array (writeable...) before any change
        state[0], state[1] = _Stage.UNSCALED, found

    def step(self, optimizer: Any, grads: Any) -> None:
        """``optimizer.step`` with the scale: skipped (nothing changes) when any grad is inf
        or NaN. Without a prior ``unscale_``, one native finiteness check over all grads,
        then the fused step divides the grads by the scale on the fly (grads unchanged)."""
        if not self._enabled:
            return optimizer.step(grads)
        state = self._state(optimizer)
        if state[0] is _Stage.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state[0] is _Stage.READY:
            arrays = _grad_list(grads)
            found = not all_finite(arrays) if arrays else False
            optimizer.step(grads, grad_scale=float(self._scale), found_inf=found)
        else:
            found = state[1]
            optimizer.step(grads, found_inf=found)
        state[0], state[1] = _Stage.STEPPED, found
        return None

    def update(self, new_scale: Any = None) -> None:
        """End of an iteration: the next scale. ``new_scale`` sets it directly; otherwise
        it backs off if any optimizer's grads held inf/NaN since the last update, and grows
        after ``growth_interval`` clean iterations (float32 arithmetic, as torch)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = _scale_value("new_scale", new_scale)
        else:
            checked = [s for s in self._per_optimizer.values() if s[0] is not _Stage.READY]
            if not checked:
                raise RuntimeError("No inf checks were recorded prior to update(): call "
                                   "step() (or unscale_()) first.")
            if any(s[1] for s in checked):
                self._scale = np.float32(np.float64(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    with np.errstate(over="ignore"):  # inf: not finite, the scale is kept
                        grown = np.float32(np.float64(self._scale) * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer.clear()

    # ------------------------------------------------------------------ accessors
    def get_scale(self) -> float:
        """The current scale as a Python float (1.0 when disabled)."""
        return float(self._scale) if self._enabled else 1.0

    def is_enabled(self) -> bool:
        return self._enabled

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = _factor("new_factor", new_factor, 1.0, math.inf)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = _factor("new_factor", new_factor, 0.0, 1.0)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = _interval(new_interval)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """torch's keys: scale, growth_factor, backoff_factor, growth_interval,
        _growth_tracker ({} when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state_dict of this class or of torch.amp.GradScaler: every entry checked
        before anything changes."""
        if not self._enabled:
            return
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        missing = [k for k in ("scale", "growth_factor", "backoff_factor", "growth_interval",
                               "_growth_tracker") if k not in state_dict]
        if missing:
            raise KeyError(f"state_dict: missing {missing[0]!r}")
        scale = _scale_value("state_dict['scale']", state_dict["scale"])
        growth = _factor("state_dict['growth_factor']", state_dict["growth_factor"], 1.0, math.inf)
        backoff = _factor("state_dict['backoff_factor']", state_dict["backoff_factor"], 0.0, 1.0)
        interval = _interval(state_dict["growth_interval"])
        tracker = C._scalar_of(state_dict["_growth_tracker"])
        if isinstance(tracker, bool) or not isinstance(tracker, numbers.Integral) or tracker < 0:
            raise ValueError("state_dict['_growth_tracker']: expected an int >= 0, got "
                             f"{state_dict['_growth_tracker']!r}")
        self._scale, self._growth_factor, self._backoff_factor = scale, growth, backoff
        self._growth_interval, self._growth_tracker = interval, int(tracker)

    def __repr__(self) -> str:
        return (f"GradScaler(scale={self.get_scale()}, growth_factor={self._growth_factor}, "
                f"backoff_factor={self._backoff_factor}, "
                f"growth_interval={self._growth_interval}, enabled={self._enabled})")


__all__ = ["GradScaler"]
