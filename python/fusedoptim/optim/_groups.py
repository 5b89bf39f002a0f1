"""Param groups, shared by every optimizer class (first-order ones in optim.base, the
closure-driven ones in second_order): parsing ``params``, naming arrays, exporting
groups to a state_dict and checking groups loaded from one."""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import _checks as C


def _is_array(x: object) -> bool:
    """A NumPy array or a CUDA device array (not a list of arrays)."""
    return isinstance(x, np.ndarray) or hasattr(type(x), "__cuda_array_interface__")


def split_groups(params: Any) -> tuple[list[Any], bool]:
    """``params`` (a list of arrays, a dict name -> array, or a list of param-group
    dicts) as (list of group dicts, whether params are named)."""
    if _is_array(params) or not hasattr(params, "__iter__"):
        raise TypeError("params: expected a list of arrays, a dict of arrays or a list of "
                        f"param-group dicts, got {type(params).__name__}")
    if isinstance(params, Mapping):
        return [{"params": params}], True
    params = list(params)
    groups = params if params and isinstance(params[0], Mapping) else [{"params": params}]
    return groups, False


def group_arrays(arrays: Any, gi: int, keys: list[Any] | None,
                 n_before: int) -> tuple[list[Any], list[Any] | None, list[str]]:
    """A new group's params as (arrays, their keys or None, their names in messages);
    ``keys`` are the optimizer's keys so far (None when params are unnamed)."""
    if isinstance(arrays, Mapping):
        if keys is None:
            raise TypeError(f"param_groups[{gi}]['params']: this optimizer's params are "
                            "unnamed; pass a list of arrays")
        new_keys, arrays = list(arrays.keys()), list(arrays.values())
        clash = [k for k in new_keys if k in keys]
        if clash:
            raise ValueError(f"param_groups[{gi}]['params']: key {clash[0]!r} is already used")
        return arrays, new_keys, [repr(k) for k in new_keys]
    if keys is not None:
        raise TypeError(f"param_groups[{gi}]['params']: this optimizer's params are named; "
                        "pass a dict name -> array")
    arrays = [arrays] if _is_array(arrays) else list(arrays)
    return arrays, None, [str(n_before + j) for j in range(len(arrays))]


def export_groups(param_groups: list[dict[str, Any]], index_lists: Sequence[Sequence[int]],
                  keys: list[Any] | None) -> list[dict[str, Any]]:
    """The param_groups of a state_dict: hyperparameters copied, params as flat indices
    (and their names, for named params)."""
    out = []
    for group, indices in zip(param_groups, index_lists):
        g = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
        g["params"] = list(indices)
        if keys is not None:
            g["param_names"] = [keys[i] for i in indices]
        out.append(g)
    return out


def check_loaded_groups(opt: Any, state_dict: Any, sizes: Sequence[int],
                        check: Callable[[dict[str, Any], int], object]) -> list[dict[str, Any]]:
    """The hyperparameters of each group of ``state_dict`` (copied), checked against this
    optimizer (``sizes``: its groups' param counts; ``check(group, label)`` its checks)."""
    if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
        raise TypeError("state_dict: expected a dict with 'state' and 'param_groups'")
    groups = state_dict["param_groups"]
    if len(groups) != len(sizes):
        raise ValueError(f"state_dict: has {len(groups)} param groups, this optimizer has "
                         f"{len(sizes)}")
    out = []
    for gi, (g, size) in enumerate(zip(groups, sizes)):
        if len(g.get("params", ())) != size:
            raise ValueError(f"state_dict: param_groups[{gi}] has {len(g.get('params', ()))} "
                             f"params, this optimizer's has {size}")
        lacking = [k for k in opt.defaults if k not in g]
        if lacking:
            raise ValueError(f"state_dict: param_groups[{gi}] lacks {lacking[0]!r}: a state_dict "
                             f"of another optimizer than {type(opt).__name__}?")
        ng = {k: copy.deepcopy(v) for k, v in g.items() if k not in ("params", "param_names")}
        check(ng, gi)
        out.append(ng)
    return out


def replace_hyperparameters(param_groups: list[dict[str, Any]],
                            new_groups: list[dict[str, Any]]) -> None:
    """Give each group the loaded hyperparameters, keeping its params."""
    for group, ng in zip(param_groups, new_groups):
        params = group["params"]
        group.clear()
        group.update(ng)
        group["params"] = params


def describe(opt: Any) -> str:
    lines = [f"{type(opt).__name__} ("]
    for i, group in enumerate(opt.param_groups):
        lines.append(f"Parameter Group {i}")
        lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
    return "\n".join(lines + [")"])


def resolve_lr(group: Mapping[str, Any], count: int, label: str) -> Mapping[str, Any]:
    """The group with a callable lr replaced by its value after ``count`` updates."""
    lr = group.get("lr")
    if not callable(lr):
        return group
    value = lr(count)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return {**group, "lr": C.lr_value(value, count, label)}
