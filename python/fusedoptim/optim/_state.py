"""Per-group state storage and the torch-like ``opt.state`` view over it.

Buffers are kept per group as lists aligned with the group's params, which is
the shape the native call takes; ``opt.state[i]`` is a live view of param i's
entries, keyed by its flat index (its key too, for params given as a dict).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np

from .._half import is_float


class GroupState:
    """Everything an optimizer keeps for one param group."""

    __slots__ = ("indices", "names", "_steps", "pending", "buffers", "updates")

    def __init__(self, indices: Iterable[int], names: Iterable[str]) -> None:
        self.indices = list(indices)           # flat index of each param of the group
        self.names = list(names)               # how each param is called in messages
        self._steps = [0] * len(self.indices)  # updates applied to each param ...
        self.pending = 0                       # ... plus this many to all (the fast path's count)
        self.buffers: dict[str, list[Any]] = {}  # buffer name -> list of arrays (None: not created)
        self.updates = 0                       # steps that updated this group (a callable lr's t)

    @property
    def steps(self) -> list[int]:
        if self.pending:
            self._steps = [s + self.pending for s in self._steps]
            self.pending = 0
        return self._steps

    @steps.setter
    def steps(self, value: Iterable[int]) -> None:
        self._steps = list(value)
        self.pending = 0

    def buffer(self, name: str) -> list[Any]:
        if name not in self.buffers:
            self.buffers[name] = [None] * len(self.indices)
        return self.buffers[name]


class ParamState(MutableMapping[str, Any]):
    """The state of one param: ``step`` (where the optimizer has one) and its buffers.

    Arrays are the optimizer's own (edit them in place, or assign an array of the
    same shape and dtype).
    """

    def __init__(self, opt: Any, group: GroupState, j: int, param: Any) -> None:
        self._opt, self._g, self._j, self._p = opt, group, j, param

    def _keys(self) -> list[str]:
        keys = [name for name, lst in self._g.buffers.items() if lst[self._j] is not None]
        if self._opt._has_step and (keys or self._g.steps[self._j] > 0):
            keys.insert(0, "step")
        return keys

    def __getitem__(self, key: str) -> Any:
        if key == "step" and self._opt._has_step:
            return self._g.steps[self._j]
        lst = self._g.buffers.get(key)
        if lst is None or lst[self._j] is None:
            raise KeyError(key)
        return lst[self._j]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "step" and self._opt._has_step:
            v = float(value)
            if not (0 <= v < math.inf and v == int(v)):  # int(inf) would be an OverflowError
                raise ValueError(f"step: expected a whole number >= 0, got {value!r}")
            self._g.steps[self._j] = int(value)
            self._opt._version += 1
            return
        if key in self._opt._scalar_state:
            self._g.buffer(key)[self._j] = scalar_state_array(value, key)
            self._opt._version += 1
            return
        if key not in self._opt._state_names(self._p):
            raise KeyError(f"{type(self._opt).__name__} keeps no state named {key!r}")
        # The kind (NumPy or the device array type) must be the param's; layout, device
        # and overlap are checked by the native layer at the next step.
        shape = self._opt._buffer_shape(key, self._p)  # Adafactor's row_var/col_var differ
        dtype = self._opt._buffer_dtype(key, self._p)  # state_dtype, else the param's
        if (type(value) is not type(self._p) or tuple(value.shape) != shape
                or value.dtype != dtype
                or (isinstance(value, np.ndarray) and not value.flags.c_contiguous)):
            raise ValueError(f"{key}: expected a C-contiguous {type(self._p).__name__} of shape "
                             f"{shape} and dtype {dtype}")
        self._g.buffer(key)[self._j] = value
        self._opt._version += 1

    def __delitem__(self, key: str) -> None:
        raise TypeError("optimizer state entries cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __repr__(self) -> str:
        return f"ParamState({dict(self)!r})"


class StateView(Mapping[Any, ParamState]):
    """``opt.state``: flat param index -> :class:`ParamState` for params that have state.

    Also looked up by a param's key (params given as a dict) or by the array itself.
    """

    def __init__(self, opt: Any) -> None:
        self._opt = opt

    def _locate(self, key: Any) -> tuple[GroupState, int, Any]:
        opt = self._opt
        if isinstance(key, np.ndarray) or hasattr(type(key), "__cuda_array_interface__"):
            for gi, gs in enumerate(opt._groups):
                for j, p in enumerate(opt.param_groups[gi]["params"]):
                    if p is key:
                        return gs, j, p
            raise KeyError("array is not a param of this optimizer")
        if opt._keys is not None and not isinstance(key, (int, np.integer)):
            try:
                key = opt._keys.index(key)
            except ValueError:
                raise KeyError(key) from None
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            for gi, gs in enumerate(opt._groups):
                if gs.indices and gs.indices[0] <= key <= gs.indices[-1]:
                    j = int(key) - gs.indices[0]
                    return gs, j, opt.param_groups[gi]["params"][j]
        raise KeyError(key)

    def __getitem__(self, key: Any) -> ParamState:
        # Like torch's defaultdict: a param without state yet gives an empty entry.
        gs, j, p = self._locate(key)
        return ParamState(self._opt, gs, j, p)

    def __contains__(self, key: object) -> bool:
        try:
            return len(self[key]) > 0
        except KeyError:
            return False

    def __iter__(self) -> Iterator[int]:
        for gi, gs in enumerate(self._opt._groups):
            for j, i in enumerate(gs.indices):
                if len(ParamState(self._opt, gs, j, None)):
                    yield i

    def __len__(self) -> int:
        return sum(1 for _ in self)


def scalar_state_array(value: Any, what: str) -> np.ndarray:
    """A per-param scalar state entry (NAdam's mu_product, ASGD's eta and mu) as the 0-d
    float32 array the optimizer keeps: a number, a 0-d array or a 0-d tensor, finite."""
    arr = loaded_state_array(value, what)
    if arr.shape != () or arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise ValueError(f"{what}: expected a number (a 0-d array), got {arr.dtype} {arr.shape}")
    out = np.array(arr, dtype=np.float32)
    if not np.isfinite(out):
        raise ValueError(f"{what}: must be finite, got {value!r}")
    return out


# ------------------------------------------------------- state loaded from other libraries
def loaded_entries(opt: Any, state: Mapping[Any, Any], params: Sequence[Any]
                   ) -> tuple[dict[Any, int], dict[tuple[Any, str], Any]]:
    """The entries of a state_dict's ``state`` for ``opt`` (params in flat order), checked:
    (step count per param index, new array per (param index, buffer name)). Nothing of
    ``opt`` changes."""
    new_steps: dict[Any, int] = {}
    new_bufs: dict[tuple[Any, str], Any] = {}
    n = len(params)
    for key, entries in state.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < n:
            raise ValueError(f"state_dict['state']: key {key!r} is not a param index "
                             f"(0..{n - 1})")
        p = params[int(key)]
        for name, value in entries.items():
            what = f"state_dict['state'][{key}][{name!r}]"
            if name == "step" and opt._has_step:
                v = float(loaded_state_array(value, what))
                if not 0 <= v < math.inf or v != int(v):  # int(inf): OverflowError
                    raise ValueError(f"{what}: expected a whole number >= 0, got {value!r}")
                new_steps[key] = int(v)
            elif name in opt._scalar_state:
                new_bufs[key, name] = scalar_state_array(value, what)
            elif name in opt._state_names(p):
                if value is None:  # torch's SGD has stored momentum_buffer None: no buffer
                    continue
                arr = loaded_state_array(value, what)
                shape = opt._buffer_shape(name, p)
                want = np.dtype(opt._buffer_dtype(name, p))
                codes = want.kind in "iu"  # 8-bit codes: never converted from another dtype
                if arr.shape != shape or not (arr.dtype == want if codes else
                                              is_float(arr.dtype)):
                    raise ValueError(f"{what}: expected a {want if codes else 'float'} array "
                                     f"of shape {shape}, got {arr.dtype} {arr.shape}")
                # In the optimizer's state dtype (state_dtype, else the param's): converted,
                # rounded to nearest even, as torch converts loaded state to its params' dtype.
                new_bufs[key, name] = opt._backend.from_numpy(arr, p, opt._buffer_dtype(name, p))
            else:
                raise ValueError(f"{what}: {type(opt).__name__} keeps no state named {name!r} "
                                 "(a state_dict of another optimizer?)")
    return new_steps, new_bufs


def loaded_state_array(value: Any, what: str) -> np.ndarray:
    """A state entry of a loaded state_dict as a NumPy array: NumPy arrays and scalars,
    device arrays (copied to the host), torch.optim's tensors (CPU or CUDA, detached if
    they require grad, bfloat16 widened exactly to float32 since NumPy has no bfloat16)
    and anything with ``__array__``. torch is never imported: a tensor is recognised by
    its type's module. The caller casts to the param's dtype."""
    from .. import _backends

    if isinstance(value, np.ndarray):
        return value
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return t.numpy()
    if _backends.is_device_array(value):
        return _backends.to_numpy(value)
    try:
        return np.asarray(value)
    except Exception as e:  # noqa: BLE001 - any library's conversion error, named
        raise TypeError(f"{what}: cannot read {type(value).__name__} as an array: {e}") from None


# ------------------------------------------- L-BFGS state: torch.optim.LBFGS's flat layout
# torch keeps each L-BFGS vector (d, prev_flat_grad, old_dirs[k], old_stps[k]) as one flat
# tensor over all params in order, and ro, H_diag, al and t as 0-d tensors; fusedoptim
# keeps vectors as lists of arrays shaped like the params. state_dict() exports torch's
# layout (scalars as floats), load_state_dict() reads both.
_LBFGS_VECTORS = ("d", "prev_flat_grad")
_LBFGS_VECTOR_LISTS = ("old_dirs", "old_stps")


def lbfgs_state_to_flat(entry: dict[str, Any]) -> dict[str, Any]:
    """An L-BFGS state entry with every vector as one flat 1-D array (params in order)."""
    out = dict(entry)
    for name in _LBFGS_VECTORS:
        if out.get(name) is not None:
            out[name] = _flat(out[name])
    for name in _LBFGS_VECTOR_LISTS:
        if out.get(name) is not None:
            out[name] = [_flat(v) for v in out[name]]
    return out


def lbfgs_state_from_flat(entry: dict[str, Any], params: Sequence[Any],
                          label: str) -> dict[str, Any]:
    """An L-BFGS state entry in fusedoptim's layout: flat vectors (arrays or tensors)
    split into arrays shaped like the params, 0-d tensors or arrays as floats. Entries
    already in fusedoptim's layout pass unchanged."""
    out = dict(entry)
    total = sum(int(p.size) for p in params)

    def split(v: Any, what: str) -> Any:
        if isinstance(v, (list, tuple)):
            return v
        a = loaded_state_array(v, what)
        if a.shape != (total,):
            raise ValueError(f"{what}: expected a flat vector of {total} values (torch's layout) "
                             f"or a list of arrays shaped like the params, got shape {a.shape}")
        parts: list[Any] = []
        off = 0
        for p in params:
            parts.append(a[off:off + p.size].reshape(p.shape))
            off += p.size
        return parts

    def scalar(v: Any, what: str) -> Any:
        if v is None or isinstance(v, (int, float)):
            return v
        a = loaded_state_array(v, what)
        if a.shape != ():
            raise ValueError(f"{what}: expected a number, got an array of shape {a.shape}")
        return float(a)

    for name in _LBFGS_VECTORS:
        if out.get(name) is not None:
            out[name] = split(out[name], f"{label}[{name!r}]")
    for name in _LBFGS_VECTOR_LISTS:
        if isinstance(out.get(name), (list, tuple)):
            out[name] = [split(v, f"{label}[{name!r}][{k}]") for k, v in enumerate(out[name])]
    for name in ("t", "H_diag", "prev_loss"):
        if name in out:
            out[name] = scalar(out[name], f"{label}[{name!r}]")
    for name in ("ro", "al"):
        if isinstance(out.get(name), (list, tuple)):
            out[name] = [scalar(v, f"{label}[{name!r}][{k}]") for k, v in enumerate(out[name])]
    return out


def _flat(arrays: Iterable[Any]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])
