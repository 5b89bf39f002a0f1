"""bitsandbytes' 8-bit optimizers: Adam8bit, AdamW8bit, SGD8bit and Lion8bit, with its
names, keywords, defaults, state layout and CPU arithmetic, run by one native pass per
block of 256 values (functional.blockwise8)."""
from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from .. import _backends
from .. import _checks as C
from .._typing import (Betas, BufferInits, Call, Hyper, Label, LR, NewBuffers, ParamGroup,
                       Params)
from ..functional._blockwise8 import BLOCK, MIN_8BIT_SIZE, blockwise8_hparams
from ._state import GroupState, loaded_state_array
from .base import Optimizer

_QMAPS: dict[str, np.ndarray] = {}


def _qmap(name: str) -> np.ndarray:
    """bitsandbytes' map of state ``name``: the signed dynamic map for the first moment
    (qmap1), the unsigned one for Adam's second (qmap2). Built from the format's
    definition (reference/_blockwise8.py) on first use: fusedoptim.reference imports
    this module's classes, so it cannot be imported at this module's import."""
    if name not in _QMAPS:
        from ..reference._blockwise8 import dynamic_map
        _QMAPS[name] = dynamic_map(signed=name == "qmap1")
    return _QMAPS[name]
_CODES = ("state1", "state2")


class Optimizer8bit(Optimizer):
    """The 8-bit optimizers' common part (bitsandbytes' ``Optimizer8bit``): the state
    layout and the checks of bitsandbytes' keywords that select what only its GPU build
    does.

    State of a param with at least ``min_8bit_size`` values (bitsandbytes' names):
    ``step``; ``state1`` (and Adam's ``state2``), uint8 codes of the param's shape;
    ``absmax1`` (``absmax2``), float32, one per block of 256 values (``ceil(n / 256)``);
    ``qmap1`` (``qmap2``), the 256-value float32 map the codes index (signed dynamic map for
    state1, unsigned for Adam's state2). A smaller param keeps ``state1`` (``state2``) as
    float32 arrays of its shape and nothing else. About 2.03 bytes of state per value for
    Adam (8 for float32 Adam), 1.02 for SGD8bit and Lion8bit.

    float32 params and grads: NumPy arrays, or CUDA device arrays (all on one device, never
    mixed with NumPy arrays), whose state is created on their device (codes, absmax and
    bitsandbytes' maps as device arrays of the params' kind) and updated by the CUDA kernel,
    bit for bit the host's step (see :func:`fusedoptim.functional.blockwise8`). No
    ``state_dtype`` and no ``master_weights``: the state is 8-bit by design. Loss scaling
    (``grad_scale``, ``found_inf``) works as for every optimizer. Loaded ``qmap1``/``qmap2``
    must be bitsandbytes' maps: codes of another map would be read wrongly. Params share a
    native call when their maps are equal; a device map is read (copied to the host) once
    per array object for that, so edit a device map by assigning a new array to the state,
    not in place.
    """

    _kind = ""
    _has_state2 = False
    _buffer_names: tuple[str, ...] = ("state1", "absmax1", "qmap1")
    _multi_pass = True  # its own native entry (functional.blockwise8), no reusable plan

    def __init__(self, params: Params, defaults: dict[str, Any], *, min_8bit_size: int,
                 args: Any = None, percentile_clipping: int = 100, block_wise: bool = True,
                 is_paged: bool = False) -> None:
        cls = type(self).__name__
        if isinstance(min_8bit_size, bool) or not isinstance(min_8bit_size, (int, np.integer)) \
                or min_8bit_size < 0:
            raise ValueError(f"min_8bit_size: expected an int >= 0, got {min_8bit_size!r}")
        if args is not None:
            raise NotImplementedError(f"args: {cls} takes its settings as keywords; "
                                      "bitsandbytes' args object is not supported")
        if isinstance(percentile_clipping, bool) or percentile_clipping != 100:
            raise NotImplementedError(f"percentile_clipping: only 100 (no clipping) is "
                                      f"supported, got {percentile_clipping!r}")
        if C.flag("block_wise", block_wise) is not True:
            raise NotImplementedError("block_wise: only blockwise quantization (True) is "
                                      "supported")
        if C.flag("is_paged", is_paged):
            raise NotImplementedError("is_paged: paged state (bitsandbytes' unified memory) "
                                      "is not supported; state is kept next to the params")
        #: params with fewer values keep float32 state (bitsandbytes' rule)
        self.min_8bit_size = int(min_8bit_size)
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ state layout
    def _is_8bit(self, p: Any) -> bool:
        return int(p.size) >= self.min_8bit_size

    def _state_names(self, p: Any) -> tuple[str, ...]:
        names = self._buffer_names
        return names if self._is_8bit(p) else tuple(n for n in names if n in _CODES)

    def _buffer_dtype(self, name: str, p: Any) -> Any:
        if name in _CODES and self._is_8bit(p):
            return np.dtype(np.uint8)
        return np.dtype(np.float32)

    def _buffer_shape(self, name: str, p: Any) -> tuple[int, ...]:
        if name.startswith("absmax"):
            return (-(-int(p.size) // BLOCK),)
        if name.startswith("qmap"):
            return (256,)
        return tuple(p.shape)

    def _check_state_dtype(self, arrays: list[Any], names: list[str]) -> None:
        cls = type(self).__name__
        for p, name in zip(arrays, names):
            if not (isinstance(p, np.ndarray) or _backends.is_device_array(p)):
                raise TypeError(f"params[{name}]: {cls} runs on NumPy arrays or CUDA device "
                                f"arrays only, got {type(p).__name__}")
            dtype = str(p.dtype).removeprefix("torch.")  # a torch tensor's dtype: torch.float32
            if dtype != "float32":
                raise TypeError(f"params[{name}]: {cls} takes float32 params (bitsandbytes' "
                                f"8-bit CPU path), got {dtype}")

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        def make(name: str) -> Any:
            def init(p: Any) -> Any:
                if name not in self._state_names(p):
                    return None
                if name.startswith("qmap"):
                    return self._backend.from_numpy(_qmap(name), p, np.float32)
                return self._backend.zeros(p, self._buffer_shape(name, p),
                                           self._buffer_dtype(name, p))
            return init
        return tuple((name, make(name)) for name in self._buffer_names)

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        # One call per step count and map pair: a call's 8-bit params share one map each.
        def qmap(name: str) -> bytes:
            arr = new.get((name, j), gs.buffers.get(name, [None] * (j + 1))[j])
            return b"" if arr is None else self._map_bytes(arr)
        return (gs.steps[j] + 1,) + tuple(qmap(n) for n in ("qmap1", "qmap2"))

    def _map_bytes(self, arr: Any) -> bytes:
        """A map's values as bytes: read on every step from a NumPy map, once per array
        object from a device map (a copy to the host waits for the GPU)."""
        if isinstance(arr, np.ndarray):
            return arr.tobytes()
        cache: dict[int, tuple[Any, bytes]] = self.__dict__.setdefault("_device_maps", {})
        hit = cache.get(id(arr))
        if hit is None or hit[0] is not arr:
            if len(cache) > 4 * self._n + 16:  # maps replaced since (loaded state): forget them
                cache.clear()
            hit = cache[id(arr)] = (arr, self._backend.to_numpy(arr).tobytes())
        return hit[1]

    def __getstate__(self) -> dict[str, Any]:
        # The device maps' bytes are found again from the copy's own arrays.
        state = super().__getstate__()
        state.pop("_device_maps", None)
        return state

    def _call(self, h: Hyper, params: list[Any], grads: list[Any], bufs: dict[str, list[Any]],
              key: Any, names: list[str]) -> Call:
        def first(name: str) -> Any:
            return next((a for a in bufs.get(name, []) if a is not None), None)
        two = self._has_state2
        args = (self._kind, params, grads, bufs["state1"], bufs["state2"] if two else None,
                bufs["absmax1"], bufs["absmax2"] if two else None, first("qmap1"),
                first("qmap2") if two else None, key[0])
        return ("blockwise8", args, dict(h, names=names))

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """As the base class, for our state_dicts and bitsandbytes' (whose ``state_dict()``
        nests the 8-bit entries of each param under ``"__bnb_optimizer_quant_state__"``;
        they are taken out of it as bitsandbytes' own load does). The 8-bit entries must be
        bitsandbytes' own: codes as uint8 (never converted from floats) and its maps, value
        for value."""
        state = state_dict.get("state") if isinstance(state_dict, Mapping) else None
        if isinstance(state, Mapping):
            state = {key: _unwrapped(entries) for key, entries in state.items()}
            state_dict = {**state_dict, "state": state,
                          "param_groups": [self._loaded_group(g) for g in
                                           state_dict.get("param_groups", [])]}
            for key, entries in state.items():
                if not isinstance(entries, Mapping):
                    continue  # the base class names the problem
                for name in ("qmap1", "qmap2"):
                    value = entries.get(name)
                    if value is None:
                        continue
                    arr = loaded_state_array(value, f"state_dict['state'][{key}][{name!r}]")
                    if arr.shape != (256,) or not np.array_equal(
                            arr.astype(np.float32, copy=False), _qmap(name)):
                        kind = "signed" if name == "qmap1" else "unsigned"
                        raise ValueError(f"state_dict['state'][{key}][{name!r}]: expected "
                                         f"bitsandbytes' {kind} dynamic map (256 values)")
        super().load_state_dict(state_dict)

    def _loaded_group(self, group: Any) -> Any:
        """A loaded param group in this class's keys (SGD8bit: from bitsandbytes' betas)."""
        return group


#: where bitsandbytes' state_dict() puts each param's 8-bit entries
_BNB_WRAPPED = "__bnb_optimizer_quant_state__"


def _unwrapped(entries: Any) -> Any:
    """A param's loaded state with bitsandbytes' nested 8-bit entries taken out."""
    if not isinstance(entries, Mapping) or not isinstance(entries.get(_BNB_WRAPPED), Mapping):
        return entries
    out = {k: v for k, v in entries.items() if k != _BNB_WRAPPED}
    out.update(entries[_BNB_WRAPPED])
    return out


def _adam_hparams(group: ParamGroup, label: Label) -> Hyper:
    beta1, beta2 = C.betas(label("betas"), group["betas"])
    h = C.checked(group, label, lr=C.nonneg, eps=C.nonneg, weight_decay=C.nonneg)
    return blockwise8_hparams("adam", h["lr"], beta1, beta2, h["eps"], h["weight_decay"], 0.0)


class Adam8bit(Optimizer8bit):
    r"""bitsandbytes' ``Adam8bit``: Adam whose two moments are kept in 8 bits, blockwise
    (Dettmers et al. 2022), with bitsandbytes' CPU arithmetic (see
    :func:`fusedoptim.functional.blockwise8`, "adam"):

    .. math::
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \theta &\leftarrow \theta (1 - \eta\lambda) - \frac{\eta}{1-\beta_1^t}\,
            \frac{m}{\sqrt{v} / \sqrt{1-\beta_2^t} + \epsilon}

    Weight decay is decoupled, as bitsandbytes' Adam8bit applies it (the same rule as
    :class:`AdamW8bit`, whose default weight_decay is 1e-2). ``amsgrad=True`` and
    ``optim_bits`` other than 32 are refused as bitsandbytes refuses them; ``args``,
    ``percentile_clipping`` other than 100, ``block_wise=False`` and ``is_paged=True``
    (features of bitsandbytes' GPU build) are refused by name. State: see :class:`Optimizer8bit`.
    """

    _kind = "adam"
    _has_state2 = True
    _buffer_names = ("state1", "state2", "absmax1", "absmax2", "qmap1", "qmap2")

    def __init__(self, params: Params, lr: LR = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False,
                 optim_bits: int = 32, args: Any = None, min_8bit_size: int = MIN_8BIT_SIZE,
                 percentile_clipping: int = 100, block_wise: bool = True,
                 is_paged: bool = False) -> None:
        if C.flag("amsgrad", amsgrad):
            raise ValueError(f"amsgrad: {type(self).__name__} does not support amsgrad=True")
        if isinstance(optim_bits, bool) or optim_bits != 32:
            raise ValueError(f"optim_bits: {type(self).__name__} only supports optim_bits=32 "
                             f"(the default, kept for bitsandbytes' signature), got "
                             f"{optim_bits!r}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay),
                         min_8bit_size=min_8bit_size, args=args,
                         percentile_clipping=percentile_clipping, block_wise=block_wise,
                         is_paged=is_paged)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        return _adam_hparams(group, label)


class AdamW8bit(Adam8bit):
    """bitsandbytes' ``AdamW8bit``: :class:`Adam8bit` with weight_decay=1e-2 by default
    (bitsandbytes runs both through the same rule, decay decoupled)."""

    def __init__(self, params: Params, lr: LR = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 optim_bits: int = 32, args: Any = None, min_8bit_size: int = MIN_8BIT_SIZE,
                 percentile_clipping: int = 100, block_wise: bool = True,
                 is_paged: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, optim_bits=optim_bits, args=args,
                         min_8bit_size=min_8bit_size, percentile_clipping=percentile_clipping,
                         block_wise=block_wise, is_paged=is_paged)


class SGD8bit(Optimizer8bit):
    r"""bitsandbytes' ``SGD8bit``: SGD with momentum, the momentum buffer kept in 8 bits
    (see :func:`fusedoptim.functional.blockwise8`, "momentum"):

    .. math::
        g \leftarrow g + \lambda\theta, \quad b \leftarrow g\ (t = 1),\
        b \leftarrow \mu b + g\ (t > 1), \quad \theta \leftarrow \theta - \eta b

    ``lr`` has no default and ``momentum`` must be > 0, as in bitsandbytes (a
    NotImplementedError otherwise). Unlike bitsandbytes, which accepts ``dampening`` and
    ``nesterov`` and ignores them, a non-zero dampening or nesterov=True is refused by
    name: the step would not be the one asked for. State: ``state1``, ``absmax1``,
    ``qmap1`` (see :class:`Optimizer8bit`).
    """

    _kind = "momentum"

    def __init__(self, params: Params, lr: LR, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, args: Any = None,
                 min_8bit_size: int = MIN_8BIT_SIZE, percentile_clipping: int = 100,
                 block_wise: bool = True) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov),
                         min_8bit_size=min_8bit_size, args=args,
                         percentile_clipping=percentile_clipping, block_wise=block_wise)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        h = C.checked(group, label, lr=C.nonneg, momentum=C.nonneg, dampening=C.nonneg,
                      weight_decay=C.nonneg, nesterov=C.flag)
        if h["dampening"] != 0.0:
            raise NotImplementedError(f"{label('dampening')}: SGD8bit has no dampening "
                                      f"(bitsandbytes ignores it), got {h['dampening']!r}")
        if h["nesterov"]:
            raise NotImplementedError(f"{label('nesterov')}: SGD8bit has no Nesterov momentum "
                                      "(bitsandbytes ignores it)")
        if h["momentum"] == 0.0:
            raise NotImplementedError(f"{label('momentum')}: SGD8bit needs momentum > 0 "
                                      "(bitsandbytes: SGD without momentum is not supported)")
        return blockwise8_hparams("momentum", h["lr"], 0.0, 0.0, 0.0, h["weight_decay"],
                                  h["momentum"])

    def _loaded_group(self, group: Any) -> Any:
        """bitsandbytes keeps SGD8bit's (momentum, dampening) as ``betas`` and has no
        nesterov: such a group gets this class's keys from them."""
        if not isinstance(group, Mapping) or "momentum" in group or "betas" not in group:
            return group
        betas = C.pair("state_dict param_groups[...]['betas']", group["betas"])
        return {**group, "momentum": betas[0], "dampening": betas[1], "nesterov": False}


class Lion8bit(Optimizer8bit):
    r"""bitsandbytes' ``Lion8bit``: :class:`fusedoptim.Lion` with its moment kept in 8 bits
    (see :func:`fusedoptim.functional.blockwise8`, "lion"):

    .. math::
        \theta \leftarrow \theta (1 - \eta\lambda)
            - \eta\,\mathrm{sign}(\beta_1 m + (1-\beta_1) g), \quad
        m \leftarrow \beta_2 m + (1-\beta_2) g

    State: ``step``, ``state1``, ``absmax1``, ``qmap1`` (see :class:`Optimizer8bit`).
    """

    _kind = "lion"

    def __init__(self, params: Params, lr: LR = 1e-4, betas: Betas = (0.9, 0.99),
                 weight_decay: float = 0, args: Any = None, min_8bit_size: int = MIN_8BIT_SIZE,
                 percentile_clipping: int = 100, block_wise: bool = True,
                 is_paged: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay),
                         min_8bit_size=min_8bit_size, args=args,
                         percentile_clipping=percentile_clipping, block_wise=block_wise,
                         is_paged=is_paged)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        h = C.checked(group, label, lr=C.nonneg, weight_decay=C.nonneg)
        return blockwise8_hparams("lion", h["lr"], beta1, beta2, 0.0, h["weight_decay"], 0.0)
