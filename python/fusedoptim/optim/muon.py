from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .._typing import (BufferInits, Call, Hyper, Label, LR, NewBuffers, ParamGroup, Params,
                       StateDtype)
from ..functional._muon import NS_COEFFICIENTS, check_matrices, muon_hparams
from ._state import GroupState
from .base import Optimizer


class Muon(Optimizer):
    r"""Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural
    networks"), as torch.optim.Muon: momentum, then each matrix's update orthogonalised by
    a Newton-Schulz iteration.

    .. math::
        B_t &\leftarrow \operatorname{lerp}(B_{t-1}, g_t, 1-\mu) = \mu B_{t-1} + (1-\mu) g_t \\
        U_t &= \operatorname{lerp}(g_t, B_t, \mu) \text{ (nesterov) else } B_t, \qquad
        O_t = \mathrm{NS}^{(a,b,c)}_k(U_t;\ \varepsilon) \\
        \theta_t &\leftarrow \theta_{t-1}(1 - \eta\lambda) - \eta'\, O_t

    NS: a tall U is transposed, divided by :math:`\max(\|U\|_F, \varepsilon)`, then ``ns_steps``
    times :math:`A = X X^T,\ X \leftarrow a X + (b A + c A A) X` (and transposed back).
    :math:`\eta'` is the lr adjusted per matrix of shape (A, B): :math:`\eta\sqrt{\max(1, A/B)}`
    (``adjust_lr_fn`` None or "original", KellerJordan's) or :math:`0.2\,\eta\sqrt{\max(A, B)}`
    ("match_rms_adamw", Moonshot's: the update's RMS of AdamW's, so AdamW's lr and weight
    decay carry over).

    Muon is for the 2-D weights of hidden layers only; any other param is a ValueError
    at construction. Give biases, norms, embeddings and the output head to another
    optimizer such as AdamW (conv filters may be reshaped to (out, in*kh*kw) matrices).

    The momentum and the decay-and-step are fused native passes over all params; the
    Newton-Schulz iteration is the array library's matmul (NumPy's BLAS; CuPy on a GPU),
    in the params' dtype, params of one shape batched into one stacked product. torch's
    reference and KellerJordan's run the iteration in bfloat16 (on GPU); in float32 and
    float64 this one follows torch's arithmetic to rounding. The BLAS threads are NumPy's
    (OPENBLAS_NUM_THREADS, threadpoolctl), not fusedoptim.set_num_threads'.

    State: ``momentum_buffer`` (zeros at the start), no step count, in the param's dtype
    (``state_dtype``: None or that dtype). float32 and float64 params only: the iteration
    runs in the arrays' dtype, where float16 overflows.
    """

    _buffer_names = ("momentum_buffer",)
    _has_step = False
    _multi_pass = True

    def __init__(self, params: Params, lr: LR = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                 eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None, *,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_coefficients=ns_coefficients,
                                      eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        keys = ("lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "eps",
                "ns_steps", "adjust_lr_fn")
        try:
            return muon_hparams(*(group[k] for k in keys))
        except (TypeError, ValueError) as exc:
            # the functional checks name the keyword: name it as this group's entry
            key, _, rest = str(exc).partition(":")
            base = key.split("[")[0]
            if base in keys:
                raise type(exc)(label(base) + key[len(base):] + ":" + rest) from None
            raise

    def _init_state(self, gs: GroupState, group: dict[str, Any]) -> None:
        # Runs before the group is added: a non-matrix param changes nothing.
        check_matrices(group["params"], gs.names)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("momentum_buffer", self._zeros_like),)

    def _bucket_key(self, gs: GroupState, j: int, new: NewBuffers) -> Hashable:
        return 0  # nothing depends on the step count: one call per group

    def _check_state_dtype(self, arrays: list[Any], names: list[str]) -> None:
        """float32 and float64 only: the Newton-Schulz iteration runs in the arrays' dtype,
        where float16 overflows."""
        super()._check_state_dtype(arrays, names)
        self._refuse_16_bit(arrays, names, "its Newton-Schulz iteration runs in the "
                                           "arrays' dtype", params_too=True)

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        return ("muon", (params, grads, bufs["momentum_buffer"]), dict(h, names=names))
