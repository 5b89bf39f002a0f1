"""The GPU side of the benchmark (``fusedoptim bench --device cuda``): fusedoptim's
CUDA kernels on CuPy arrays against torch's CUDA optimizers (fused=True and
foreach=True) and a same-traffic roofline kernel on the GPU, in one interleaved run.

GPU work is asynchronous: a timed sample ends with a device-wide synchronisation,
so it measures the GPU's time for the steps; ``host_time`` measures the host's
time per step call alone (the launches, no waiting).
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Callable

from fusedoptim import _backends

from .impls import fusedoptim_arrays, traffic_plan
from .workloads import OPTIMIZERS

try:  # torch is optional: only to compare against
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


@dataclass
class DeviceTools:
    """How benchmark arrays get to the device, how to wait for it, and what it is."""
    to_device: Callable
    synchronize: Callable
    name: str
    torch_device: str | None = "cuda"  # None: no torch column (the tests' emulation)


def cuda_tools() -> DeviceTools:
    """CuPy arrays on the current CUDA device; RuntimeError saying what is missing."""
    try:
        cuda = importlib.import_module("fusedoptim._cuda")
    except ImportError as exc:
        raise RuntimeError("--device cuda: this fusedoptim has no CUDA extension; reinstall "
                           "with pip install \".[cuda,bench]\" -Ccmake.define.FUSEDOPTIM_CUDA=ON"
                           ) from exc
    info = cuda.device_info()
    if not info["devices"]:
        raise RuntimeError(f"--device cuda: no CUDA device ({info['error']})")
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError("--device cuda: CuPy is needed (pip install fusedoptim[cuda])") from exc
    dev = info["devices"][cupy.cuda.Device().id]
    cc = ".".join(map(str, dev["compute_capability"]))
    return DeviceTools(cupy.asarray, cupy.cuda.runtime.deviceSynchronize,
                       f"{dev['name']} (compute capability {cc}), CUDA {info['runtime_version']}")


def implementations(tools: DeviceTools) -> dict:
    """name -> factory(key, params, grads, shared) -> step function or None, as
    bench/impls.py; the roofline runs over fusedoptim's device arrays."""

    def native(key, params, grads, shared):
        try:
            opt, _, gs, _ = fusedoptim_arrays(key, params, grads, shared, tools.to_device)
            opt.step(gs)
        except NotImplementedError:
            return None  # a host-only optimizer (Adafactor)
        return lambda: opt.step(gs)

    def roofline(key, params, grads, shared):
        try:
            _, ps, gs, states = fusedoptim_arrays(key, params, grads, shared, tools.to_device)
        except NotImplementedError:
            return None  # a host-only optimizer: no fusedoptim arrays on the device
        return traffic_plan(_backends.for_arrays(ps).Plan, ps, gs, states)

    def torch_mode(mode):
        def factory(key, params, grads, shared):
            if torch is None or tools.torch_device is None or not torch.cuda.is_available():
                return None
            cls, kw, _ = OPTIMIZERS[key]
            if not hasattr(torch.optim, cls):
                return None  # Lion, LAMB, LARS: torch has none
            tps = [torch.tensor(p, device=tools.torch_device).requires_grad_() for p in params]
            for tp, g in zip(tps, grads):
                tp.grad = torch.tensor(g, device=tools.torch_device)
            try:
                opt = getattr(torch.optim, cls)(tps, **kw, **{mode: True})
                opt.step()  # some refuse only here (fused Adagrad is CPU-only)
            except (TypeError, RuntimeError, ValueError):
                return None  # e.g. no fused RMSprop in torch
            return opt.step
        return factory

    return {"fusedoptim": native, "torch-fused": torch_mode("fused"),
            "torch-foreach": torch_mode("foreach"), "roofline": roofline}


def host_time(fn, synchronize, calls: int = 50, rounds: int = 7) -> list:
    """Host seconds per call of ``fn`` (the launches only), one sample per round. The
    device is idle at the start of each round, so no call waits for a full queue."""
    fn()
    synchronize()
    samples = []
    for _ in range(rounds):
        synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls)
        synchronize()
    return samples
