"""The implementations a benchmark step is timed with.

Each factory takes (optimizer key, params, grads, shared) and returns a zero-argument
step function, or None where the implementation does not exist (torch's fused
RMSprop, say). ``shared`` is a dict that lives for one measurement: the factories
of that measurement use it to find one another's arrays.

Every implementation updates its own copy of the params and keeps its own state.
NumPy, torch's loop and torch fused read the one shared copy of the grads (they only
read them): that keeps the memory of a measurement, and of the default run, down.
torch's foreach path writes its grads (Nesterov adds the buffer to them) and
fusedoptim keeps the layout it had (below): both have their own copy.

The roofline runs over fusedoptim's own arrays (params, grads, state buffers), so it
moves the very bytes the step moves, through the same memory. Given arrays of its
own it measured their placement as much as the traffic: one 128 MB float64 buffer
allocated elsewhere could run 2-2.7x slower than the optimizer's (benchmarks/RESULTS.md,
"The roofline's arrays"). Its multiply-add has scale 0, so it changes no value.
"""
from __future__ import annotations

import fusedoptim
from fusedoptim import _native

from .adafactor import adafactor_roofline, adafactor_states
from .workloads import EXTRA_READS, OPTIMIZERS

try:  # torch is optional: only to compare against
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def _copies(arrays):
    return [a.copy() for a in arrays]


def _with_arrays(fn, arrays):
    """The step function, carrying the arrays it reads and writes (for the tests)."""
    fn.arrays = arrays
    return fn


def fusedoptim_arrays(key, params, grads, shared, to_device=None):
    """fusedoptim's optimizer of this measurement on its own copies of the params, after
    one step (its state buffers exist from the first step on): (optimizer, params,
    grads, [buffers of each kind]). Made once; the roofline runs over the same arrays.
    ``to_device``: copies params and grads to a device (bench/device.py)."""
    if "fusedoptim" not in shared:
        cls, kw, buffers = OPTIMIZERS[key]
        if to_device is None:
            # Its own grads too, copied right after the params, so that its arrays lie
            # as they did before the grads were shared: p, g, then the buffers below
            # them. Where large arrays lie relative to one another changes a streaming
            # step's speed up to 2x on the development VM (a state buffer one mapping
            # away from its params is the slow case: see benchmarks/RESULTS.md); a
            # shared grads array between its params and buffers put it there.
            ps, gs = _copies(params), _copies(grads)
        else:
            ps, gs = [to_device(p) for p in params], [to_device(g) for g in grads]
        opt = getattr(fusedoptim, cls)(ps, **kw)
        opt.step(gs)
        if key == "adafactor":  # state of other shapes than the params': see bench/adafactor.py
            shared["fusedoptim"] = (opt, ps, gs, adafactor_states(opt))
            return shared["fusedoptim"]
        # the arrays of the state (NAdam's mu_product, ASGD's eta and mu are 0-d scalars)
        names = [k for k in opt.state[0] if k != "step" and k not in opt._scalar_state]
        if len(names) != buffers:  # the bytes model and the roofline count on it
            raise RuntimeError(f"{key}: expected {buffers} state buffers, found {names}")
        states = [[opt.state[i][name] for i in range(len(ps))] for name in names]
        shared["fusedoptim"] = (opt, ps, gs, states)
    return shared["fusedoptim"]


def native(key, params, grads, shared):
    opt, ps, gs, states = fusedoptim_arrays(key, params, grads, shared)
    lists = states.values() if isinstance(states, dict) else states  # Adafactor's: by role
    return _with_arrays(lambda: opt.step(gs), ps + gs + [a for s in lists for a in s])


def numpy_reference(key, params, grads, shared):
    cls, kw, _ = OPTIMIZERS[key]
    opt = getattr(fusedoptim.reference, cls)(_copies(params), **kw)
    return lambda: opt.step(grads)


def _torch(mode):
    def factory(key, params, grads, shared):
        if torch is None:
            return None
        cls, kw, _ = OPTIMIZERS[key]
        tps = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
        for tp, g in zip(tps, grads):
            # The foreach path uses the grads as scratch (Nesterov adds the buffer to
            # them in place): it gets its own copy; the others only read them.
            tp.grad = torch.from_numpy(g.copy() if mode == "foreach" else g)
        if not hasattr(torch.optim, cls):
            return None  # Lion: torch has none
        try:
            opt = getattr(torch.optim, cls)(tps, **kw, **{mode: True} if mode else {"foreach": False})
        except (TypeError, RuntimeError, ValueError):
            return None  # e.g. no fused RMSprop in torch
        return opt.step
    return factory


def traffic_plan(plan_class, ps, gs, states):
    """The same-traffic kernel over these arrays: reads p, g and each state buffer,
    writes p and each buffer, scale 0 (values unchanged)."""
    spec = _native.SPECS["traffic"]
    flags = sum(spec["flags"][f"state{k + 1}"] for k in range(len(states)))
    operands = [ps, gs] + states + [None] * (3 - len(states))
    plan = plan_class([(spec["id"], flags, (0.0,), operands, None)])
    scalars = [(0.0,)]
    return _with_arrays(lambda: plan.run(gs, scalars), ps + gs + [a for s in states for a in s])


def roofline(key, params, grads, shared):
    """Same traffic as the optimizer's step, over the optimizer's own arrays: the traffic
    kernel, and for a step of several passes a sum of squares over the arrays it reads
    again (EXTRA_READS), so every array is read as often as the step reads it; Adafactor
    has its own (bench/adafactor.py)."""
    opt, ps, gs, states = fusedoptim_arrays(key, params, grads, shared)
    if key == "adafactor":
        return adafactor_roofline(ps, gs, states, traffic_plan(_native.Plan, ps, gs, []))
    run = traffic_plan(_native.Plan, ps, gs, states)
    if key not in EXTRA_READS:
        return run
    names = [k for k in opt.state[0] if k != "step" and k not in opt._scalar_state]
    lists = dict(zip(names, states), params=ps, grads=gs)
    again = [a for name in EXTRA_READS[key] for a in lists[name]]
    kind = _native._core.Reduction.SUM_SQUARES

    def step():
        run()
        _native._core.reduce(kind, again)
    return _with_arrays(step, run.arrays)


def triad(key, params, grads, shared):
    """a = b + s*c over arrays of the params' sizes: the classic bandwidth kernel."""
    a, c = _copies(params), _copies(params)
    spec = _native.SPECS["triad"]
    plan = _native.Plan([(spec["id"], 0, (0.5,), [a, grads, c], None)])
    scalars = [(0.5,)]
    return _with_arrays(lambda: plan.run(grads, scalars), a + list(grads) + c)


#: name -> factory, in the order they are reported
IMPLEMENTATIONS = {
    "fusedoptim": native,
    "numpy": numpy_reference,
    "torch": _torch(None),
    "torch-foreach": _torch("foreach"),
    "torch-fused": _torch("fused"),
    "roofline": roofline,
    "triad": triad,
}

#: what the default run times: torch's foreach path and the STREAM triad are asked
#: for by name (--implementations all), their copies would take the default run's
#: largest measurement past 2 GB
DEFAULT_IMPLEMENTATIONS = ["fusedoptim", "numpy", "torch", "torch-fused", "roofline"]


def set_threads(n: int) -> None:
    fusedoptim.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
