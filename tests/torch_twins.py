"""torch's optimizers as the conformance tests compare with: torch.optim's own, except
Muon, whose Newton-Schulz iteration torch runs in bfloat16 (as KellerJordan's reference
does on GPU) while fusedoptim runs it in the params' dtype. ``SamePrecisionMuon`` is
torch.optim.Muon with that function swapped, for the duration of its own steps only, for
a copy identical but for the cast: the comparison is then one of arithmetic."""
from __future__ import annotations

from unittest import mock

import torch
import torch.optim._muon as _torch_muon


def newton_schulz_keep_dtype(grad, ns_coefficients, ns_steps, eps):
    """torch.optim._muon._zeropower_via_newtonschulz (torch 2.13) with ``grad.bfloat16()``
    replaced by ``grad.clone()`` (a copy, as the cast made: div_ must not touch the buffer)."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


class SamePrecisionMuon(torch.optim.Muon):
    def step(self, closure=None):
        with mock.patch.object(_torch_muon, "_zeropower_via_newtonschulz",
                               newton_schulz_keep_dtype):
            return super().step(closure)


def torch_class(name):
    """The torch optimizer class fusedoptim's ``name`` is compared with."""
    return SamePrecisionMuon if name == "Muon" else getattr(torch.optim, name)
