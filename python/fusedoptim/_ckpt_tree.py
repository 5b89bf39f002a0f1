"""The structure of a checkpoint as JSON: nested dicts, lists and tuples of arrays and
Python scalars, each array replaced by its index in a list of arrays.

JSON itself carries None, bool, str and finite floats and ints exactly (Python writes a
float's shortest round-trip repr). Everything else is a one-key object, a tag:

    {"dict": [[key, value], ...]}   keys str or int (JSON strings or numbers), in order
    {"list": [...]}, {"tuple": [...]}
    {"array": i}                    the i-th array
    {"scalar": i}                   a NumPy scalar (np.float32(1.0), np.int64(3), ...): the
                                    i-th array, 0-d, loaded back as the scalar of its dtype
    {"float": "nan" | "inf" | "-inf"}
    {"int": "-0x1f..."}             an int outside the 64-bit range, in hexadecimal (Python
                                    refuses to write or read decimal ints past 4300 digits)

Only the node kinds above exist, so a manifest names no type to construct and nothing
can be unpickled. Every array index is referenced exactly once.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

#: deeper structures are refused (on save and load) rather than hitting Python's recursion limit
MAX_DEPTH = 100
_INT64 = 1 << 63
_TAGS = ("dict", "list", "tuple", "array", "scalar", "float", "int")


def _sub(path: str, key: object) -> str:
    return f"{path}[{key!r}]"


def encode(obj: Any, arrays: list[np.ndarray], path: str = "obj", depth: int = 0,
           active: set[int] | None = None) -> Any:
    """The JSON node of ``obj``; arrays (and NumPy scalars as 0-d arrays) are appended to
    ``arrays``. Raises TypeError/ValueError naming the path of anything that cannot be
    saved exactly."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, np.ndarray):
        arrays.append(check_array(obj, path))
        return {"array": len(arrays) - 1}
    if isinstance(obj, np.generic):       # before int/float/str: np.float64 is a float
        arrays.append(check_array(np.array(obj), path))
        return {"scalar": len(arrays) - 1}
    if isinstance(obj, numbers.Integral):
        n = int(obj)
        return n if -_INT64 <= n < _INT64 else {"int": hex(n)}
    if isinstance(obj, float):
        v = float(obj)
        if math.isfinite(v):
            return v
        return {"float": "nan" if v != v else ("inf" if v > 0 else "-inf")}
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, (Mapping, list, tuple)):
        active = set() if active is None else active
        if id(obj) in active:
            raise ValueError(f"{path}: the structure contains itself")
        active.add(id(obj))
        try:
            if isinstance(obj, Mapping):
                items = []
                for k, v in obj.items():
                    items.append([_key(k, path), encode(v, arrays, _sub(path, k), depth + 1,
                                                        active)])
                return {"dict": items}
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [encode(v, arrays, _sub(path, i), depth + 1, active)
                           for i, v in enumerate(obj)]}
        finally:
            active.discard(id(obj))
    hint = (" (convert tensors with .numpy() first)" if hasattr(obj, "__array__") else "")
    raise TypeError(f"{path}: cannot save a {type(obj).__module__}.{type(obj).__qualname__}; "
                    "a checkpoint holds dicts, lists, tuples, NumPy arrays and scalars, "
                    f"None, bool, int, float and str{hint}")


def _key(k, path):
    if isinstance(k, str) and not isinstance(k, np.generic):
        return str(k)
    if isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_)):
        v = int(k)
        if -_INT64 <= v < _INT64:
            return v
    raise TypeError(f"{path}: dict key {k!r} ({type(k).__name__}) cannot be saved; keys must "
                    "be str or int (within 64 bits)")


def check_array(a: np.ndarray, path: str) -> np.ndarray:
    """``a`` C-contiguous (a copy only if it is not), or TypeError if its dtype cannot be
    stored exactly without pickle."""
    dt = a.dtype
    if dt.hasobject:
        raise TypeError(f"{path}: arrays of Python objects (dtype {dt}) cannot be saved: they "
                        "would need pickle, which load() never runs")
    descr = np.lib.format.dtype_to_descr(dt)
    try:  # latin-1: the .npy header versions 1.0 and 2.0, the ones load() reads
        same = np.lib.format.descr_to_dtype(descr) == dt and bool(repr(descr).encode("latin1"))
    except (ValueError, TypeError, UnicodeEncodeError):
        same = False
    if not same:
        raise TypeError(f"{path}: dtype {dt} cannot be stored exactly in a .npy member "
                        "(an extension dtype, or non-latin-1 field names)")
    return a if a.flags.c_contiguous else np.array(a, order="C", copy=True)


# ------------------------------------------------------------------------------- load
class ManifestError(ValueError):
    """The manifest's structure is not one save() writes."""


def decode(node: Any, arrays: list[np.ndarray], used: list[bool], where: str = "root",
           depth: int = 0) -> Any:
    """The object of a JSON node; ``arrays[i]`` replaces {"array": i}, and ``used[i]`` is
    set (each index must appear exactly once)."""
    if depth > MAX_DEPTH:
        raise ManifestError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, str)):
        return node
    if isinstance(node, int):
        if not -_INT64 <= node < _INT64:
            raise ManifestError(f"{where}: int outside the 64-bit range written in decimal")
        return node
    if isinstance(node, float):
        if not math.isfinite(node):
            raise ManifestError(f"{where}: a non-finite float written as a JSON number")
        return node
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in _TAGS:
        raise ManifestError(f"{where}: not a node of a checkpoint manifest: {_short(node)}")
    (tag, value), = node.items()
    if tag in ("array", "scalar"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(arrays):
            raise ManifestError(f"{where}: array index {_short(value)} is not one of the "
                                f"{len(arrays)} arrays")
        if used[value]:
            raise ManifestError(f"{where}: array {value} is referenced twice")
        used[value] = True
        a = arrays[value]
        if tag == "scalar":
            if a.ndim != 0:
                raise ManifestError(f"{where}: a scalar refers to array {value} of shape "
                                    f"{a.shape}")
            return a[()]
        return a
    if tag == "float":
        if value not in ("nan", "inf", "-inf"):
            raise ManifestError(f"{where}: float tag {_short(value)}")
        return float(value)
    if tag == "int":
        if not isinstance(value, str) or len(value) > 100_000:
            raise ManifestError(f"{where}: int tag {_short(value)}")
        try:
            return int(value, 16)
        except ValueError:
            raise ManifestError(f"{where}: int tag {_short(value)}") from None
    if not isinstance(value, list):
        raise ManifestError(f"{where}: {tag} tag without a list")
    if tag == "dict":
        out = {}
        for item in value:
            if not isinstance(item, list) or len(item) != 2 or isinstance(item[0], bool) \
                    or not isinstance(item[0], (str, int)):
                raise ManifestError(f"{where}: dict item {_short(item)} is not [str or int key, "
                                    "value]")
            k = item[0]
            if k in out:
                raise ManifestError(f"{where}: dict key {k!r} appears twice")
            out[k] = decode(item[1], arrays, used, _sub(where, k), depth + 1)
        return out
    items = [decode(v, arrays, used, _sub(where, i), depth + 1) for i, v in enumerate(value)]
    return tuple(items) if tag == "tuple" else items


def _short(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."
