"""The distributed bench's tables (Markdown, printed as they are): measured phases per
scheme, the collectives over message sizes, the model's check against the measurements,
and the model's extrapolation to many ranks."""
from __future__ import annotations

from typing import Any

from .cost_model import Network, collective_seconds

NAMES = {"zero1": "ZeRO-1", "dp": "plain DP"}
PHASE_COLUMNS = ("agree", "reduce_scatter", "update", "all_gather", "allreduce")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.3g}" if seconds < 1 else f"{seconds * 1e3:,.0f}"


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def phases(rows: list[dict[str, Any]]) -> str:
    """Median ms per step and per phase (the slowest rank's), update bandwidth, state per
    rank and its share of plain data parallelism's."""
    full = {(r["workload"], r["optimizer"], r["layout"]): max(r["state_bytes"])
            for r in rows if r["scheme"] == "dp"}
    out = []
    for r in rows:
        ph = r["phases"]
        mine = max(r["state_bytes"])
        share = mine / full[(r["workload"], r["optimizer"], r["layout"])] if full.get(
            (r["workload"], r["optimizer"], r["layout"])) else None
        upd = ph.get("update")
        out.append([r["workload"], r["optimizer"], str(r["ranks"]), NAMES[r["scheme"]], r["layout"],
                    _ms(r["step"])] + [_ms(ph.get(k)) for k in PHASE_COLUMNS]
                   + [f"{r['update_bytes'] / upd / 1e9:.3g}" if upd else "-", _bytes(mine),
                      "-" if share is None else f"{share:.3f}",
                      "yes" if r["params_agree"] else "NO"])
    header = ["workload", "optimizer", "N", "scheme", "layout", "step ms", "agree ms",
              "reduce-scatter ms", "update ms", "all-gather ms", "allreduce ms", "update GB/s",
              "state/rank", "of DP's", "params agree"]
    return _table(header, out)


def sweep(rows: list[dict[str, Any]], net: Network | None) -> str:
    """ms per collective at each message size, with the fitted model's allreduce."""
    by: dict[tuple[int, int], dict[str, float]] = {}
    for r in rows:
        by.setdefault((r["ranks"], r["bytes"]), {})[r["kind"]] = r["seconds"]
    out = []
    for (n, size), t in sorted(by.items()):
        model = collective_seconds("allreduce", n, size, net) if net else None
        out.append([str(n), _bytes(size), _ms(t.get("allreduce")), _ms(t.get("reduce_scatter")),
                    _ms(t.get("all_gather")), _ms(model)])
    return _table(["N", "message", "allreduce ms", "reduce-scatter ms", "all-gather ms",
                   "allreduce ms, fitted model"], out)


def check(rows: list[dict[str, Any]], net: Network) -> str:
    """The fitted model's collective time against the measured phases (flat layout)."""
    out = []
    for r in rows:
        if r["ranks"] < 2 or r["layout"] != "flat":
            continue
        m = r["values"] * 4
        ph = r["phases"]
        if r["scheme"] == "zero1":
            measured = ph["reduce_scatter"] + ph["all_gather"]
            model = (collective_seconds("reduce_scatter", r["ranks"], m, net)
                     + collective_seconds("all_gather", r["ranks"], m, net))
        else:
            measured = ph["allreduce"]
            model = collective_seconds("allreduce", r["ranks"], m, net)
        out.append([r["workload"], r["optimizer"], str(r["ranks"]), NAMES[r["scheme"]],
                    _ms(measured), _ms(model), f"{model / measured:.2f}"])
    return _table(["workload", "optimizer", "N", "scheme", "collectives ms, measured", "model ms",
                   "model / measured"], out)


def model(rows: list[dict[str, float]]) -> str:
    """The model's step per rank count: both schemes' collectives, update and total, and
    state and memory (params + grads + state) per rank."""
    out = [[str(int(r["ranks"])), _ms(r["dp_comm"]), _ms(r["dp_update"]), _ms(r["dp_total"]),
            _ms(r["zero1_comm"]), _ms(r["zero1_update"]), _ms(r["zero1_total"]),
            f"{r['dp_total'] / r['zero1_total']:.2f}x",
            _bytes(r["dp_state_bytes"]), _bytes(r["zero1_state_bytes"]),
            _bytes(r["dp_memory_bytes"]), _bytes(r["zero1_memory_bytes"])] for r in rows]
    return _table(["N", "DP allreduce ms", "DP update ms", "DP step ms", "ZeRO-1 RS+AG ms",
                   "ZeRO-1 update ms", "ZeRO-1 step ms", "ZeRO-1 faster by", "state/rank DP",
                   "state/rank ZeRO-1", "memory/rank DP", "memory/rank ZeRO-1"], out)
