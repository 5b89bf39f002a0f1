"""Learning-rate schedulers with torch.optim.lr_scheduler's names, arguments, defaults
and values, for fusedoptim optimizers.

They follow torch's convention: the optimizer's lr is set when the scheduler is
built (its step 0), and ``sched.step()`` is called after each ``opt.step(grads)``;
each step writes ``opt.param_groups[i]["lr"]`` (and the momentum, or betas[0], for
CyclicLR and OneCycleLR with ``cycle_momentum``). ``get_last_lr()``,
``state_dict()`` and ``load_state_dict()`` work as in torch: save and load the
optimizer's state_dict with the scheduler's to resume exactly.

The step -> value functions to pass as ``lr`` instead are in
:mod:`fusedoptim.schedules`.

    opt = fusedoptim.SGD(params, lr=0.1, momentum=0.9)
    sched = fusedoptim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        opt.step(grads)
        sched.step()
"""
from ._base import LRScheduler
from ._compose import ChainedScheduler, SequentialLR
from ._cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from ._cyclic import CyclicLR, OneCycleLR
from ._factor import (ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR,
                      MultiStepLR, PolynomialLR, StepLR)
from ._plateau import ReduceLROnPlateau

__all__ = [
    "LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "LinearLR", "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
    "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR",
]
