from __future__ import annotations

from typing import Any

from .. import _checks as C
from .._typing import Betas, BufferInits, Call, Hyper, Label, LR, ParamGroup, Params, StateDtype
from .base import Optimizer


class LAMB(Optimizer):
    r"""LAMB, the layer-wise adaptive large-batch optimizer of You et al. 2019 ("Large
    Batch Optimization for Deep Learning: Training BERT in 76 minutes"), as optax.lamb;
    torch.optim has none.

    .. math::
        g_t &\leftarrow \pm g_t, \qquad m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        u_t &= \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon}
        + \lambda \theta_{t-1}, \qquad
        r_t = \frac{\lVert \theta_{t-1} \rVert}{\lVert u_t \rVert}
        \text{ (1 if either is 0)} \\
        \theta_t &= \theta_{t-1} - \eta\, r_t\, u_t

    Norms are per tensor (each param array is a layer). The weight decay is added to the
    Adam direction before the trust ratio (optax's add_decayed_weights), and eps sits
    outside the square root (eps_root = 0). State: ``step``, ``exp_avg`` (m),
    ``exp_avg_sq`` (v). A step is two passes over memory: the moments with both norms of
    every tensor, then the update. CUDA device arrays run the same two passes on the GPU.
    """

    _buffer_names = ("exp_avg", "exp_avg_sq")
    _multi_pass = True

    def __init__(self, params: Params, lr: LR = 1e-3, betas: Betas = (0.9, 0.999),
                 eps: float = 1e-6, weight_decay: float = 0.0, *, maximize: bool = False,
                 state_dtype: StateDtype = None,
                 master_weights: bool = False,
                 stochastic_rounding: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize),
                         state_dtype=state_dtype, master_weights=master_weights,
                         stochastic_rounding=stochastic_rounding)

    def _check_hparams(self, group: ParamGroup, label: Label) -> Hyper:
        beta1, beta2 = C.betas(label("betas"), group["betas"])
        return dict(C.checked(group, label, lr=C.nonneg, eps=C.nonneg, weight_decay=C.nonneg,
                              maximize=C.flag),
                    beta1=beta1, beta2=beta2)

    def _needed_buffers(self, h: Hyper) -> BufferInits:
        return (("exp_avg", self._zeros_like), ("exp_avg_sq", self._zeros_like))

    def _check_state_dtype(self, arrays: list[Any], names: list[str]) -> None:
        """16-bit params take float32 state (state_dtype=np.float32): the update pass
        re-reads the moments the first pass wrote, and a 16-bit v underflows there (below
        6e-8 in float16 it is 0, and the step divides by eps)."""
        super()._check_state_dtype(arrays, names)
        self._refuse_16_bit(arrays, names, "its second pass re-reads the moments, which "
                                           "would underflow in 16 bits")

    def _call(self, h: Hyper, params: list[Any], grads: list[Any],
              bufs: dict[str, list[Any]], key: Any, names: list[str]) -> Call:
        return ("lamb", (params, grads, bufs["exp_avg"], bufs["exp_avg_sq"], key),
                dict(h, names=names))
