"""A cost model of a data-parallel optimizer step: alpha-beta ring collectives plus a
memory-bound local update. Pure functions (no MPI): the distributed bench fits alpha,
beta and the update bandwidth to what it measured, and extrapolates with them.

Ring collectives over N ranks, M bytes of the full buffer, alpha seconds of latency per
message and beta bytes/s of bandwidth per link:

    allreduce        2 (N-1) alpha + 2 (N-1)/N * M / beta
    reduce-scatter     (N-1) alpha +   (N-1)/N * M / beta
    all-gather         (N-1) alpha +   (N-1)/N * M / beta

so a reduce-scatter followed by an all-gather (ZeRO-1's step) costs exactly one
allreduce (plain data parallelism's). The local update is memory-bound: bytes moved /
bandwidth, over M/N values under ZeRO-1 and all M under plain data parallelism.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: collective -> (multiple of (N-1) alpha, multiple of (N-1)/N * M / beta)
COLLECTIVES = {"allreduce": (2.0, 2.0), "reduce_scatter": (1.0, 1.0), "all_gather": (1.0, 1.0)}


@dataclass(frozen=True)
class Network:
    """alpha: seconds per message (latency); beta: bytes per second per link."""
    alpha: float
    beta: float

    @staticmethod
    def of(gbit_per_s: float, alpha_us: float) -> Network:
        return Network(alpha=alpha_us * 1e-6, beta=gbit_per_s * 1e9 / 8)

    def describe(self) -> str:
        return f"alpha = {self.alpha * 1e6:.3g} us, beta = {self.beta * 8 / 1e9:.3g} Gb/s " \
               f"({self.beta / 1e9:.3g} GB/s)"


def coefficients(kind: str, n: int, m_bytes: float) -> tuple[float, float]:
    """(coefficient of alpha, coefficient of 1/beta) of one ring collective."""
    if kind not in COLLECTIVES:
        raise ValueError(f"kind: expected one of {sorted(COLLECTIVES)}, got {kind!r}")
    if n < 1:
        raise ValueError(f"n: expected a rank count >= 1, got {n}")
    a, b = COLLECTIVES[kind]
    return a * (n - 1), b * (n - 1) / n * m_bytes


def collective_seconds(kind: str, n: int, m_bytes: float, net: Network) -> float:
    a, b = coefficients(kind, n, m_bytes)
    return a * net.alpha + b / net.beta


def fit_network(samples: Iterable[tuple[str, int, float, float]]) -> Network:
    """alpha and beta fitted by least squares to measured (kind, N, M bytes, seconds).

    The fit minimises relative errors (each equation divided by its time): the times span
    five decades, and absolute errors would leave alpha to the largest messages' noise.
    Neither may be negative: a negative alpha (latency below what the bandwidth term
    explains) is set to zero and beta refitted alone."""
    rows = [(*coefficients(kind, n, m), t) for kind, n, m, t in samples if n > 1 and t > 0]
    if len({(round(a, 9), round(b, 3)) for a, b, _ in rows}) < 2:
        raise ValueError("samples: need at least two different collectives or sizes at N > 1")
    # normal equations of min sum((a x + b y) / t - 1)^2 over x = alpha, y = 1/beta
    saa = sum((a / t) ** 2 for a, _, t in rows)
    sbb = sum((b / t) ** 2 for _, b, t in rows)
    sab = sum(a * b / t ** 2 for a, b, t in rows)
    sa = sum(a / t for a, _, t in rows)
    sb = sum(b / t for _, b, t in rows)
    det = saa * sbb - sab * sab
    x = (sa * sbb - sb * sab) / det if det > 0 else -1.0
    y = (sb * saa - sa * sab) / det if det > 0 else -1.0
    if x < 0 or y <= 0:
        x, y = 0.0, sb / sbb
    if y <= 0:
        raise ValueError("samples: the times do not grow with the message size; no bandwidth fits")
    return Network(alpha=x, beta=1.0 / y)


def fit_bandwidth(samples: Iterable[tuple[float, float]]) -> float:
    """Bytes/s of the local update fitted (least squares on relative error, through the
    origin) to (bytes moved, seconds) pairs."""
    ratios = [b / t for b, t in samples if t > 0 and b > 0]
    if not ratios:
        raise ValueError("samples: no positive (bytes, seconds) pair")
    # min sum((b / (bw t)) - 1)^2 over 1/bw: 1/bw = sum(r) / sum(r^2) with r = b / t
    return sum(r * r for r in ratios) / sum(ratios)


@dataclass(frozen=True)
class StepModel:
    """One scheme's modelled step on one rank."""
    comm: float           # seconds of collectives
    update: float         # seconds of the local update
    state_bytes: float    # optimizer state per rank
    memory_bytes: float   # params + grads + optimizer state per rank

    @property
    def total(self) -> float:
        return self.comm + self.update


def step_models(params: int, n: int, itemsize: int, update_bytes_per_value: float,
                state_buffers: int, net: Network, update_bandwidth: float) -> dict[str, StepModel]:
    """{"dp": plain data parallelism, "zero1": ZeRO stage 1} for ``params`` values of
    ``itemsize`` bytes on ``n`` ranks. Grads travel in the params' dtype; each state
    buffer holds one value per param; the 1/N scaling of the mean is left out (one
    read and write of the received grads: small against the update)."""
    m = params * itemsize
    shard = math.ceil(params / n)
    full_state = state_buffers * itemsize * params
    dp = StepModel(comm=collective_seconds("allreduce", n, m, net),
                   update=params * update_bytes_per_value / update_bandwidth,
                   state_bytes=full_state, memory_bytes=2 * m + full_state)
    zero_state = state_buffers * itemsize * shard
    zero = StepModel(comm=collective_seconds("reduce_scatter", n, m, net)
                     + collective_seconds("all_gather", n, m, net),
                     update=shard * update_bytes_per_value / update_bandwidth,
                     state_bytes=zero_state, memory_bytes=2 * m + zero_state)
    return {"dp": dp, "zero1": zero}


def model_rows(params: int, ranks: Sequence[int], itemsize: int, update_bytes_per_value: float,
               state_buffers: int, net: Network, update_bandwidth: float) -> list[dict[str, float]]:
    """One row per rank count: both schemes' comm, update and total seconds, state and
    memory bytes per rank."""
    rows = []
    for n in ranks:
        m = step_models(params, n, itemsize, update_bytes_per_value, state_buffers, net,
                        update_bandwidth)
        row: dict[str, float] = {"ranks": n}
        for scheme, sm in m.items():
            row.update({f"{scheme}_comm": sm.comm, f"{scheme}_update": sm.update,
                        f"{scheme}_total": sm.total, f"{scheme}_state_bytes": sm.state_bytes,
                        f"{scheme}_memory_bytes": sm.memory_bytes})
        rows.append(row)
    return rows
