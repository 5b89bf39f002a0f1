"""torch's optimizers as the conformance tests compare with: torch.optim's own, except
Muon, whose Newton-Schulz iteration torch runs in bfloat16 (as KellerJordan's reference
does on GPU) while fusedoptim runs it in the params' dtype. ``SamePrecisionMuon`` is
torch.optim.Muon with that function swapped, for the duration of its own steps only, for
a copy identical but for the cast (fusedoptim.bench.muon.newton_schulz_keep_dtype, which
the benchmark's fair comparison uses too): the comparison is then one of arithmetic."""
from __future__ import annotations

import torch

from fusedoptim.bench.muon import same_precision_muon

SamePrecisionMuon = same_precision_muon()


def torch_class(name):
    """The torch optimizer class fusedoptim's ``name`` is compared with."""
    return SamePrecisionMuon if name == "Muon" else getattr(torch.optim, name)
