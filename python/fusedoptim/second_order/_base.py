"""What the closure-driven (second-order) optimizers share: params given as a list, a
dict or param groups, torch's ``param_groups`` / ``state`` / ``state_dict()``, checks
of what the closure returns, and the ``info`` dict each step leaves behind.

A lighter sibling of :class:`fusedoptim.Optimizer`: these optimizers call the
closure (several times per step for line searches) and keep global state (L-BFGS
history, evaluation counts) rather than one buffer per param, so the state lives in
``opt.state[0]`` as torch.optim.LBFGS keeps it under its first param.
"""
from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import _checks as C
from .. import _native
from .._typing import Closure, Hyper, Label, ParamGroup, Params, StateDict
from ..optim import _groups as G
from ..optim._lock import new_lock, one_at_a_time, without_lock
from ..clip import all_finite, global_norm

class _State(dict):
    """``opt.state``: param index (or the param's key, or the array itself) -> a dict;
    missing entries of real params start empty, as torch's defaultdict."""

    def __init__(self, opt: ClosureOptimizer) -> None:
        super().__init__()
        self._opt = opt

    def _index(self, key: Any) -> Any:
        if isinstance(key, np.ndarray):
            for i, p in enumerate(self._opt._params):
                if p is key:
                    return i
            raise KeyError("this array is not a param of the optimizer")
        keys = self._opt._keys
        if keys is not None and not isinstance(key, (int, np.integer)) and key in keys:
            return keys.index(key)
        return key

    def __getitem__(self, key: Any) -> dict[str, Any]:
        i = self._index(key)
        if not dict.__contains__(self, i):
            if isinstance(i, (int, np.integer)) and 0 <= i < len(self._opt._params):
                dict.__setitem__(self, int(i), {})
        return dict.__getitem__(self, i)

    def __contains__(self, key: object) -> bool:
        try:
            return dict.__contains__(self, self._index(key))
        except KeyError:
            return False


class ClosureOptimizer:
    """Base of Newton, DiagonalNewton and LBFGS. Subclasses set ``_single_group`` and
    implement ``_check_group(group, label) -> dict`` and ``_check_state(entry, label)``."""

    _single_group = True
    #: the subclass's checks of a group's hyperparameters: (group, label) -> checked values
    _check_group: Callable[[ParamGroup, Label], Hyper]

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self._lock = new_lock()  # one step at a time: see optim/_lock.py
        self.defaults = dict(defaults)
        self._check_group(self.defaults, lambda k: k)
        self.param_groups: list[dict[str, Any]] = []
        self._params: list[np.ndarray] = []
        self._keys: Any = None  # the params' keys (params given as a dict), else None
        self.state = _State(self)
        #: what the last step did: iterations, function_evaluations, grad_norm, reason, ...
        self.info: dict[str, Any] = {}
        groups, named = G.split_groups(params)
        if named:
            self._keys = []
        if self._single_group and len(groups) != 1:
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options "
                             "(parameter groups)")
        for group in groups:
            self.add_param_group(group)
        if not self._params:
            raise ValueError("params: empty parameter list")

    def __getstate__(self) -> dict[str, Any]:
        return without_lock(self.__dict__)  # a copy gets its own lock

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = new_lock()

    @one_at_a_time
    def add_param_group(self, param_group: ParamGroup) -> None:
        """Add a group of params with its own hyperparameters (missing ones from the defaults)."""
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError("param_group: expected a dict with a 'params' entry")
        if self._single_group and self.param_groups:
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options "
                             "(parameter groups)")
        gi = len(self.param_groups)
        group = dict(param_group)
        arrays, keys, names = G.group_arrays(group["params"], gi, self._keys, len(self._params))
        # dtype float32/float64, C-contiguous, writeable, no two params sharing memory
        _native._core.check_params(self._params + arrays,
                                   [str(i) for i in range(len(self._params))] + names)
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_group(group, lambda k: f"param_groups[{gi}][{k!r}]")
        group["params"] = arrays
        if keys is not None:
            self._keys.extend(keys)
        self._params.extend(arrays)
        self.param_groups.append(group)

    def _hparams(self, gi: int = 0) -> Hyper:
        """Group ``gi``'s hyperparameters, checked again (users may edit param_groups)."""
        return self._check_group(self.param_groups[gi], lambda k: f"param_groups[{gi}][{k!r}]")

    # ----------------------------------------------------------- closure results
    def _call(self, closure: Closure, parts: int, what: str) -> Sequence[Any]:
        """Call the closure and check it returned a tuple of ``parts`` items."""
        out = closure()
        if not isinstance(out, (tuple, list)) or len(out) != parts:
            got = f"a {type(out).__name__} of length {len(out)}" \
                if isinstance(out, (tuple, list)) else type(out).__name__
            raise TypeError(f"closure: expected it to return a tuple {what}, got {got}")
        return out

    @staticmethod
    def _loss(value: Any, finite: bool) -> float:
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(()).item()
        if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating)):
            raise TypeError(f"closure: the loss must be a real number, got {type(value).__name__}")
        v = float(value)
        if finite and not math.isfinite(v):
            raise ValueError(f"closure: returned a non-finite loss ({v}) at the current parameters")
        return v

    def _arrays(self, value: Any, what: str, copy_: bool) -> list[np.ndarray]:
        """A list of arrays aligned with the params (a list, or a dict with the params' keys),
        each of its param's shape, as C-contiguous arrays of the param's dtype (copied when
        ``copy_`` or when a conversion is needed)."""
        n = len(self._params)
        if isinstance(value, Mapping):
            if self._keys is None:
                raise TypeError(f"closure: {what} must be a list (params were given as a list)")
            missing = [k for k in self._keys if k not in value]
            extra = [k for k in value if k not in self._keys]
            if missing or extra:
                raise ValueError(f"closure: {what} " + (f"misses key {missing[0]!r}" if missing
                                                        else f"has unexpected key {extra[0]!r}"))
            value = [value[k] for k in self._keys]
        elif isinstance(value, (list, tuple)):
            value = list(value)
        else:
            raise TypeError(f"closure: {what} must be a list of arrays aligned with the params, "
                            f"got {type(value).__name__}")
        if len(value) != n:
            raise ValueError(f"closure: expected {n} {what} arrays (one per param), "
                             f"got {len(value)}")
        out = []
        for i, (a, p) in enumerate(zip(value, self._params)):
            if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu":
                raise TypeError(f"closure: {what}[{i}] must be a real NumPy array, got "
                                f"{getattr(a, 'dtype', type(a).__name__)}")
            if a.shape != p.shape:
                raise ValueError(f"closure: {what}[{i}] has shape {a.shape}, its param {p.shape}")
            out.append(np.array(a, dtype=p.dtype, order="C", copy=True) if copy_
                       else np.ascontiguousarray(a, dtype=p.dtype))
        return out

    def _check_finite(self, arrays: list[np.ndarray], what: str) -> None:
        if not all_finite(arrays):
            raise ValueError(f"closure: {what} contain NaN or infinity at the current parameters")

    def _views(self, flat: np.ndarray) -> list[np.ndarray]:
        """Views of a flat vector shaped like the params (no copy), each cast to its param's
        dtype (a copy only where the dtypes differ)."""
        out, off = [], 0
        for p in self._params:
            v = flat[off:off + p.size].reshape(p.shape)
            out.append(v if v.dtype == p.dtype else v.astype(p.dtype))
            off += p.size
        return out

    def _global(self) -> Any:  # the dict of state[0]: its entries vary in type
        st = self.state[0]
        st.setdefault("func_evals", 0)
        st.setdefault("n_iter", 0)
        return st

    def _finish(self, loss: float, iterations: int, evals: int, grads: list[np.ndarray],
                reason: str, **extra: Any) -> None:
        self.info = dict(iterations=iterations, function_evaluations=evals, loss=loss,
                         grad_norm=global_norm(grads, 2.0),
                         grad_max_abs=global_norm(grads, math.inf), reason=reason,
                         converged=reason in ("tolerance_grad", "tolerance_change"), **extra)

    # --------------------------------------------------------------- state_dict
    @one_at_a_time
    def state_dict(self) -> StateDict:
        """A deep copy: {"state": {0: {...}}, "param_groups": [{..., "params": [indices]}]}."""
        indices, start = [], 0
        for group in self.param_groups:
            indices.append(range(start, start + len(group["params"])))
            start += len(group["params"])
        groups = G.export_groups(self.param_groups, indices, self._keys)
        return {"state": {k: copy.deepcopy(v) for k, v in dict.items(self.state)},
                "param_groups": groups}

    @one_at_a_time
    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state_dict (copied), checked completely before anything changes."""
        new_groups = G.check_loaded_groups(
            self, state_dict, [len(g["params"]) for g in self.param_groups],
            lambda ng, gi: self._check_group(ng, lambda k: f"state_dict param_groups[{gi}][{k!r}]"))
        new_state = {}
        for key, entry in state_dict["state"].items():
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) \
                    or not 0 <= key < len(self._params) or not isinstance(entry, Mapping):
                raise ValueError(f"state_dict['state']: key {key!r} is not a param index "
                                 f"(0..{len(self._params) - 1}) with a dict")
            new_state[int(key)] = self._check_state(copy.deepcopy(dict(entry)),
                                                    f"state_dict['state'][{key}]")
        G.replace_hyperparameters(self.param_groups, new_groups)
        dict.clear(self.state)
        dict.update(self.state, new_state)

    def _check_state(self, entry: dict[str, Any], label: str) -> dict[str, Any]:
        for name in ("func_evals", "n_iter"):
            if name in entry:
                v = entry[name]
                if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                    raise ValueError(f"{label}[{name!r}]: expected an int >= 0, got {v!r}")
        unknown = [k for k in entry if k not in self._state_names]
        if unknown:
            raise ValueError(f"{label}: {type(self).__name__} keeps no state named {unknown[0]!r}")
        return entry

    _state_names: tuple[str, ...] = ("func_evals", "n_iter")

    def __repr__(self) -> str:
        return G.describe(self)


def check_closure(closure: object) -> None:
    if not callable(closure):
        raise TypeError("closure: step() needs a callable that re-evaluates the model, got "
                        f"{type(closure).__name__}")


def positive_int(label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{label}: expected an int >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{label}: must be >= 1, got {value!r}")
    return int(value)


def nonneg(label: str, value: Any) -> float:
    return C.nonneg(label, value)
