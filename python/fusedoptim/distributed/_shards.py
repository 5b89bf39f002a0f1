"""How ZeroRedundancyOptimizer cuts the params into shards: per dtype, the params'
values in order form one flat space, cut into ``size`` contiguous shards balanced by
values: every shard has total // size values, the last one also the remainder (fewer
than ``size`` values). Equal shards let the all-gather be MPI's Allgather, which MPICH
runs 2-2.5x faster than Allgatherv on uneven counts (measured on 2 and 4 ranks); the
remainder follows in one small broadcast. A tensor may straddle two or more shards:
each rank updates the piece of it that falls in its shard."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Space:
    """One dtype's params, in order, as one flat space of ``total`` values."""
    dtype: np.dtype
    members: list[int] = field(default_factory=list)   # global param indices
    offsets: list[int] = field(default_factory=list)   # where each starts in the space
    total: int = 0
    bounds: list[int] = field(default_factory=list)    # shard r is [bounds[r], bounds[r+1])

    def counts(self) -> list[int]:
        return [b - a for a, b in zip(self.bounds, self.bounds[1:])]

    @property
    def block(self) -> int:
        """The values of every shard but the last one's remainder: total // size."""
        return self.bounds[1] - self.bounds[0]


@dataclass(frozen=True)
class Piece:
    """The values [lo, hi) of param ``index`` (of group ``group``) that this rank updates;
    they sit at ``at`` in this rank's shard of space ``space``."""
    index: int
    group: int
    lo: int
    hi: int
    space: int
    at: int


def cut(sizes: list[int], dtypes: list[np.dtype], groups: list[int], size: int,
        rank: int) -> tuple[list[Space], list[Piece]]:
    """The spaces of these params (flat sizes, dtypes, group of each) and this rank's
    pieces, in param order."""
    spaces: list[Space] = []
    where: dict[np.dtype, int] = {}
    for i, (n, dt) in enumerate(zip(sizes, dtypes)):
        s = where.setdefault(dt, len(spaces))
        if s == len(spaces):
            spaces.append(Space(dt))
        sp = spaces[s]
        sp.members.append(i)
        sp.offsets.append(sp.total)
        sp.total += n
    for sp in spaces:
        block = sp.total // size
        sp.bounds = [block * r for r in range(size)] + [sp.total]
    pieces = []
    for s, sp in enumerate(spaces):
        first, last = sp.bounds[rank], sp.bounds[rank + 1]
        for i, off in zip(sp.members, sp.offsets):
            lo, hi = max(first, off) - off, min(last, off + sizes[i]) - off
            if lo < hi:
                pieces.append(Piece(i, groups[i], lo, hi, s, off + lo - first))
    pieces.sort(key=lambda p: p.index)
    return spaces, pieces
