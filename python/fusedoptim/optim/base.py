"""The Optimizer base class: param groups, state, state_dict, validation, and one
native call per step for all groups.

Subclasses describe their optimizer with a few hooks (hyperparameter checks, the
state buffers they need, the functional call for one bucket of params) and
inherit everything else. ``fusedoptim.reference`` runs the same classes with the
NumPy twin of the functional layer.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping
from types import ModuleType
from typing import Any

from .. import _backends, _half
from .._native import same_key
from .. import _checks as C
from .. import functional as F
from .._typing import (BufferInits, Call, Grads, Hyper, Label, NewBuffers, ParamGroup, Params,
                       Work)
from . import _groups as G
from ._fast import FastStep
from ._lock import new_lock, one_at_a_time, without_lock
from .._stochastic import keys_of_works, new_rounding_seed, rounding_keys
from ._persist import Persistence
from ._precision import MASTER, Precision, on_masters
from ._state import GroupState, StateView


class Optimizer(Precision, Persistence):
    """Base of every fusedoptim optimizer; see torch.optim.Optimizer for the model.

    ``params``: a list of NumPy arrays, a dict name -> array, or a list of
    param-group dicts ``{"params": [...], "lr": ...}``. Arrays are updated in place
    and must be float32, float64, float16 or bfloat16 (``ml_dtypes.bfloat16``),
    C-contiguous and writeable; grads have their param's dtype. 16-bit params update in
    float32 arithmetic, each written value rounded once (torch's "opmath").

    ``state_dtype`` (keyword of every optimizer class): None keeps every state buffer in
    its param's dtype, as torch does; np.float32, np.float16 or ml_dtypes.bfloat16 keeps
    them all in that dtype (float32 state for 16-bit params, or 16-bit state to halve
    the memory of float32 params' state). Float64 params take None or np.float64 only.
    Per-param scalars (NAdam's mu_product, ASGD's eta and mu) stay 0-d float32 arrays.
    The choice is the optimizer's, not a param group's: a state_dict carries it in its
    arrays' dtypes, and load_state_dict converts loaded buffers to it (rounded to
    nearest even), as torch converts loaded state to its params' dtype.

    ``master_weights=True`` keeps a float32 copy of each float16/bfloat16 param in its
    state (``master_param``, made from the param at its first step): the step updates
    the copy and writes the param as its rounding, in the same pass, so small updates
    accumulate in float32 instead of vanishing below the 16-bit param's precision.
    Other params have no copy. One-pass optimizers only (not LAMB, LARS, Adafactor, Muon).

    ``stochastic_rounding=True`` rounds every 16-bit value a step writes (16-bit params,
    a param written from its master copy, 16-bit state) stochastically instead of to
    nearest even: a value x between its two 16-bit neighbours lo < x < hi becomes hi with
    probability (x - lo) / (hi - lo), so small updates survive in expectation. Exact values,
    zeros, infs and NaNs are kept; past the largest finite 16-bit value, round to nearest.
    The random bits come from a counter-based generator keyed by (seed, step, tensor,
    operand, element index) (the rule and generator: fusedoptim/_stochastic.py), so results
    are bitwise the same for any thread count and ISA path, on the reused plan as on the
    general path, and reproducible: the seed (``rounding_seed``, drawn from os.urandom at
    construction) is saved in ``state_dict()["rounding_seed"]`` and restored by
    ``load_state_dict`` (optimizers without a "step" entry, SGD and Lion, also save their
    step counts, ``"rounding_steps"``). Float32 and float64 values are unaffected. One-pass
    optimizers on host arrays only.

    CUDA device arrays (CuPy, or anything with ``__cuda_array_interface__``) run on
    the CUDA kernels instead, with state kept as device arrays of the same kind and
    device (needs the CUDA build; see the README). All params of one optimizer are on
    one side and one device.

    Threads: one step at a time per optimizer. ``step``, ``add_param_group``,
    ``state_dict`` and ``load_state_dict`` hold the optimizer's lock for their whole
    run, so calls from several threads are serialized, never interleaved (a step that
    fails in one thread changes nothing for the others). Different optimizers step in
    parallel.
    """

    #: state buffers this optimizer may keep, by torch's names
    _buffer_names: tuple[str, ...] = ()
    #: whether torch keeps a "step" entry in this optimizer's state
    _has_step: bool = True
    #: per-param scalars torch keeps as 0-d tensors and updates on the host (NAdam's
    #: mu_product, ASGD's eta and mu): kept as 0-d float32 NumPy arrays, torch's dtype
    #: for them, on the host even for device params. Listed in _buffer_names too.
    _scalar_state: tuple[str, ...] = ()
    #: flag bits of the kernel that follow the scalar state, and the function giving them
    #: from the scalar function's arguments (see optim/_fast.py)
    _state_flag_mask: int = 0
    _state_flags: Callable[..., int] | None = None
    #: the functional layer the updates run through (the reference swaps in NumPy's)
    _functional: ModuleType = F
    #: a step of more than one native pass (per-tensor norms, factored statistics,
    #: matrix products between passes: LAMB, LARS, Adafactor, Muon). Every call's
    #: ``<name>_work`` (its first pass, naming every array the step touches) is checked
    #: first, then each call's functional entry runs its passes; no reusable plan.
    _multi_pass: bool = False

    def __init__(self, params: Params, defaults: dict[str, Any], *,
                 state_dtype: Any = None, master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        self._lock = new_lock()  # one step at a time: see _lock.py
        #: the dtype of every state buffer (None: each param's own); see the class docstring
        self.state_dtype = _half.state_dtype(state_dtype)
        #: a float32 master copy of each 16-bit param (state "master_param"); see the class
        #: docstring
        self.master_weights = C.flag("master_weights", master_weights)
        if self.master_weights and self._multi_pass:
            raise ValueError(f"master_weights: {type(self).__name__}'s step is several passes; "
                             "master copies are kept by the one-pass optimizers only")
        #: 16-bit values written rounded stochastically; see the class docstring
        self.stochastic_rounding = C.flag("stochastic_rounding", stochastic_rounding)
        if self.stochastic_rounding and self._multi_pass:
            raise ValueError(f"stochastic_rounding: {type(self).__name__}'s step is several "
                             "passes; stochastic rounding is done by the one-pass optimizers only")
        #: the seed of stochastic rounding's generator (saved in the state_dict)
        self.rounding_seed = new_rounding_seed()
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._groups: list[GroupState] = []
        self._keys: Any = None  # the params' keys (params given as a dict), else None
        self._n = 0
        self._version = 0   # bumped whenever params or state are replaced: invalidates the plan
        self._fast: FastStep | None = None  # the reusable plan of the last step, see _fast.py
        self._backend: Any = None  # host or CUDA, from the first param (_backends.py)
        self._hyper = operator.itemgetter(*self.defaults)
        self._check_hparams(G.resolve_lr(self.defaults, 0, "lr"), lambda k: k)
        groups, named = G.split_groups(params)
        if named:
            self._keys = []
        for group in groups:
            self.add_param_group(group)
        if self._n == 0:
            raise ValueError("params: empty parameter list")

    # ------------------------------------------------------------------ groups
    @one_at_a_time
    def add_param_group(self, param_group: ParamGroup) -> None:
        """Add a group of params with its own hyperparameters (missing ones from the defaults)."""
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError("param_group: expected a dict with a 'params' entry")
        group = dict(param_group)
        gi = len(self.param_groups)
        arrays, keys, names = G.group_arrays(group["params"], gi, self._keys, self._n)
        existing = [p for g in self.param_groups for p in g["params"]]
        backend = self._backend or _backends.for_arrays(arrays)
        backend.check_params(existing + arrays, [str(i) for i in range(self._n)] + names)
        self._check_state_dtype(arrays, names)
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_hparams(G.resolve_lr(group, 0, f"param_groups[{gi}]['lr']"),
                            lambda k: f"param_groups[{gi}][{k!r}]")
        group["params"] = arrays
        self._backend = backend
        gs = GroupState(range(self._n, self._n + len(arrays)), names)
        self._init_state(gs, group)
        if keys is not None:
            self._keys.extend(keys)
        self._n += len(arrays)
        self.param_groups.append(group)
        self._groups.append(gs)
        self._version += 1

    @staticmethod
    def _works(calls: list[Call], masters: list[Any] | None = None,
               roundings: list[Any] | None = None) -> list[Work]:
        """The native layer's description of each call: what it checks and runs (with
        the params' float32 master copies, where a call has them, and with stochastic
        rounding's (seed, tensors, steps))."""
        works = [getattr(F, name + "_work")(*args, **kw) for name, args, kw in calls]
        if roundings:
            ms = masters or [None] * len(works)
            works = [(*w, m, r) for w, m, r in zip(works, ms, roundings)]
        elif masters:
            works = [w if m is None else (*w, m) for w, m in zip(works, masters)]
        return works

    def __getstate__(self) -> dict[str, Any]:
        # The native plan holds raw pointers: a copy (pickle, deepcopy) makes its own on
        # its first step. The backend holds modules: the copy finds its own from its params.
        # A lock is not copied: the copy gets its own.
        return {**without_lock(self.__dict__), "_fast": None, "_backend": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("state_dtype", None)  # pickled before state_dtype existed
        self.__dict__.setdefault("master_weights", False)  # ... or before master_weights
        self.__dict__.setdefault("stochastic_rounding", False)  # ... or stochastic_rounding
        if "rounding_seed" not in self.__dict__:
            self.rounding_seed = new_rounding_seed()
        self._lock = new_lock()
        self._backend = _backends.for_arrays([p for g in self.param_groups for p in g["params"]])

    @property
    def state(self) -> StateView:
        """Param index (or key, or the array) -> its state: ``step`` and NumPy buffers."""
        return StateView(self)

    # -------------------------------------------------------------------- step
    def step(self, grads: Grads | None = None, *, grad_scale: Any = None,
             found_inf: Any = None) -> None:
        """Update every param in place from ``grads``.

        ``grads``: a list aligned with the params (flattened across groups in order),
        or a dict with the params' keys. A None entry skips that param, as a param
        without ``.grad`` is skipped in torch. Everything is checked before any array
        changes; grads are only read. Steps of one optimizer from several threads run
        one at a time (see the class docstring).

        Loss scaling (see :class:`fusedoptim.amp.GradScaler`): ``grad_scale`` is the
        factor the grads were multiplied by; every update reads ``g / grad_scale`` in
        the params' dtype, as torch's fused kernels do, and the grads stay unchanged.
        ``found_inf=True`` makes the step change nothing at all (params, state, step
        counts, the count a callable lr sees); the grads are still checked.
        """
        scale = 1.0 if grad_scale is None else C.grad_scale(grad_scale)
        skip = found_inf is not None and C.found_inf(found_inf)
        with self._lock:  # not the decorator: one call less on the fast path
            if skip:
                self._general_step(grads, scale, dry_run=True)
                return
            fast = self._fast
            if fast is not None and (scale == 1.0 or (C.kernel_scale(scale)
                                                      and self._backend.name == "host")) and \
                    (same_key(fast.key, self._fast_key()) or fast.refresh(self)):
                flat = grads if type(grads) is list else self._flat_dict(grads)
                if flat is not None:
                    try:
                        fast.plan.run(flat, fast.scalars(), scale)
                    except self._backend.StalePlan:
                        self._fast = None  # something changed: the general path decides
                    else:
                        for gs in self._groups:
                            gs.pending += 1
                            gs.updates += 1
                        if self._scalar_state:
                            fast.advance_scalar_state(self)
                        return
            self._general_step(grads, scale)

    def _fast_key(self) -> tuple[int, list[tuple[int, Any]]]:
        # The plan stores a snapshot of this key (_fast.stored_key) and compares it with
        # _native.same_key: a list edited in place (betas[0] = 0) or a value replaced by
        # an equal one of another type (lr = True for 1.0) makes them differ.
        hyper = self._hyper
        return (self._version, [(id(g["params"]), hyper(g)) for g in self.param_groups])

    def _flat_dict(self, grads: Any) -> list[Any] | None:
        keys = self._keys
        if keys is None or type(grads) is not dict or len(grads) != len(keys):
            return None
        try:
            return [grads[k] for k in keys]
        except KeyError:
            return None

    def _general_step(self, grads: Grads | None, grad_scale: float = 1.0,
                      dry_run: bool = False) -> None:
        """The step through every check (and a new plan when it can be reused). With
        ``dry_run``, only the checks: nothing changes (a step skipped for found_inf)."""
        per_group = self._split_grads(grads)
        in_kernel = (self._functional is F and not self._multi_pass and self._backend.name == "host"
                     and C.kernel_scale(grad_scale))
        if grad_scale != 1.0 and not in_kernel and not dry_run:
            # The single-pass kernels unscale on the fly (a power-of-two scale: times its
            # exact reciprocal). The reference, the multi-pass steps and other scales read
            # unscaled copies: g / scale in the grads' dtype, torch's formula.
            per_group = [[self._unscaled(g, grad_scale) for g in glist] for glist in per_group]
            grad_scale = 1.0
        calls: list[Call] = []
        call_masters: list[list[Any] | None] = []  # per call: the params' master copies
        roundings: list[Any] = []  # per call: stochastic rounding's (seed, tensors, steps)
        commits: list[tuple[GroupState, list[int], dict[tuple[str, int], Any], Hyper]] = []
        cacheable = self._functional is F and not self._multi_pass
        for gi, (group, gs, glist) in enumerate(zip(self.param_groups, self._groups, per_group)):
            h = self.group_hparams(gi)
            active = [j for j, g in enumerate(glist) if g is not None]
            cacheable = cacheable and len(active) == len(glist)
            if not active:
                continue
            # buffers created on this step: stored only once the step succeeds
            new: dict[tuple[str, int], Any] = {}
            for name, init in self._needed_buffers(h):
                lst = gs.buffer(name)
                for j in active:
                    if lst[j] is None:
                        new[name, j] = init(group["params"][j])
            masters = self._new_masters(group["params"], gs, active, new)
            buckets: dict[Hashable, list[int]] = {}
            for j in active:
                buckets.setdefault(self._bucket_key(gs, j, new), []).append(j)
            cacheable = cacheable and not new and len(buckets) == 1
            for key, js in buckets.items():
                bufs = {name: [new.get((name, j), gs.buffers[name][j]) for j in js]
                        for name, _ in self._needed_buffers(h)}
                # A whole group passes its own params list: a reused plan watches that list.
                ps = group["params"] if len(js) == len(glist) else [group["params"][j] for j in js]
                calls.append(self._call(h, ps,
                                        [glist[j] for j in js], bufs, key,
                                        [gs.names[j] for j in js]))
                call_masters.append([new.get((MASTER, j), gs.buffers[MASTER][j]) for j in js]
                                    if masters else None)
                if self.stochastic_rounding:
                    steps = gs.steps
                    roundings.append((self.rounding_seed, [gs.indices[j] for j in js],
                                      [steps[j] + 1 for j in js]))
            commits.append((gs, active, new, h))
        if dry_run:
            works = self._works(calls, call_masters, roundings)
            if works:
                self._backend.validate(works)
            return
        self._fast = None
        works = self._execute(calls, grad_scale, call_masters, roundings)
        if cacheable and works:
            self._fast = FastStep(self, works, calls, [c[0] for c in commits])
        for gs, active, new, h in commits:
            gs.updates += 1
            for (name, j), arr in new.items():
                gs.buffers[name][j] = arr
            for j in active:
                gs.steps[j] += 1
            if self._scalar_state:
                for j in active:
                    self._advance_scalar_state(h, gs, j, gs.steps[j])

    def group_hparams(self, gi: int) -> Hyper:
        """Group ``gi``'s hyperparameters for its next update, checked; a callable lr is
        evaluated at the number of updates the group has had (the first update uses lr(0))."""
        group, gs = self.param_groups[gi], self._groups[gi]
        label = f"param_groups[{gi}]"
        return self._check_hparams(G.resolve_lr(group, gs.updates, f"{label}['lr']"),
                                   lambda k: f"{label}[{k!r}]")

    def _execute(self, calls: list[Call], grad_scale: float = 1.0,
                 masters: list[Any] | None = None, roundings: list[Any] | None = None
                 ) -> list[Work]:
        """Run the step's calls: one native call for all, or the reference's NumPy.
        Returns the works that ran. ``grad_scale``: the kernels divide the grads by it
        (a power of two; the other paths were given unscaled copies). ``masters``: per
        call, None or the params' float32 master copies. ``roundings``: per call,
        stochastic rounding's (seed, tensors, steps), or none."""
        works = self._works(calls, masters, roundings)
        if self._functional is F and not self._multi_pass:
            self._backend.run(works, grad_scale)
            return works
        if self._functional is not F and self._backend.name != "host":
            raise TypeError("the reference optimizers run on NumPy arrays only")
        self._backend.validate(works)
        with rounding_keys(keys_of_works(works)):  # the reference's stores: _stochastic.store
            for c, (name, args, kw) in enumerate(calls):
                fn = getattr(self._functional, name)
                ms = masters[c] if masters else None
                if ms is None:
                    fn(*args, **kw)
                else:
                    on_masters(fn, args, kw, ms)
        return works

    def _split_grads(self, grads: Grads | None) -> list[list[Any]]:
        if grads is None:
            raise TypeError("grads: step() needs the gradients, a list aligned with the params "
                            "or a dict with the params' keys")
        if isinstance(grads, Mapping):
            if self._keys is None:
                raise TypeError("grads: params were given as a list, so grads must be a list too")
            missing = [k for k in self._keys if k not in grads]
            extra = [k for k in grads if k not in self._keys]
            if missing:
                raise ValueError(f"grads: missing key {missing[0]!r}")
            if extra:
                raise ValueError(f"grads: unexpected key {extra[0]!r} (not a param of this optimizer)")
            flat = [grads[k] for k in self._keys]
        elif isinstance(grads, (list, tuple)):
            flat = list(grads)
        else:
            raise TypeError(f"grads: expected a list of arrays or a dict, got {type(grads).__name__}")
        if len(flat) != self._n:
            raise ValueError(f"grads: expected {self._n} arrays (one per param), got {len(flat)}")
        out: list[list[Any]] = []
        start = 0
        for gs in self._groups:
            out.append(flat[start:start + len(gs.indices)])
            start += len(gs.indices)
        return out

    # ------------------------------------------------------------ subclass hooks
    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        """Validate a group's hyperparameters; ``label(key)`` names them in errors.
        Returns the values the update uses."""
        raise NotImplementedError

    def _init_state(self, gs: GroupState, group: dict[str, Any]) -> None:
        """State created with the group (torch creates most state lazily at the first step)."""

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        """(name, init) of each buffer the update with hyperparameters ``h`` uses;
        ``init(param)`` creates it for a param that has none yet."""
        return ()

    def _buffer_shape(self, name: str, p: Any) -> tuple[int, ...]:
        """The shape of state buffer ``name`` of param ``p`` (checked on load_state_dict):
        the param's own unless the optimizer keeps statistics of another shape."""
        return tuple(p.shape)

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        """Params with equal keys share one kernel launch: by default the step number (and
        the values of the scalar state, which the kernel takes as per-step scalars)."""
        if not self._scalar_state:
            return gs.steps[j] + 1
        return (gs.steps[j] + 1,) + tuple(
            float(new.get((name, j), gs.buffers.get(name, [None] * (j + 1))[j]))
            for name in self._scalar_state)

    def _advance_scalar_state(self, h: Hyper, gs: GroupState, j: int, step: int) -> None:
        """After a step that updated param j of group gs (``step``: its step count, this
        step included): its scalar state's new values, written into its 0-d arrays.
        ``h`` has at least the arguments of the family's scalar function."""
        lists = gs.buffers
        new = self._next_scalar_state(h, step, [float(lists[n][j]) for n in self._scalar_state])
        for name, value in zip(self._scalar_state, new):
            lists[name][j][()] = value

    def _next_scalar_state(self, h: Hyper, step: int, values: list[float]) -> tuple[float, ...]:
        """The values of the scalar state (in _scalar_state's order) after step ``step``."""
        raise NotImplementedError

    def _call(self, h: Hyper, params: list[Any], grads: list[Any], bufs: dict[str, list[Any]],
              key: Any, names: list[str]) -> Call:
        """(functional name, args, kwargs) of the update of one bucket."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return G.describe(self)


#: kept for fusedoptim.distributed (a group with a callable lr resolved at a count)
_resolve_lr = G.resolve_lr
