"""Pure-Python/NumPy twin of every optimizer: same classes, same signatures.

The classes share fusedoptim's bookkeeping (param groups, state, state_dict) and
run their arithmetic through :mod:`fusedoptim.reference.functional`, written
straight from the formulas. The oracle of the tests, the NumPy baseline of the
benchmarks.
"""
from typing import TypeVar

from .. import optim as _optim
from . import clip, functional, losses

_Opt = TypeVar("_Opt", bound=_optim.Optimizer)


def _twin(cls: type[_Opt]) -> type[_Opt]:
    doc = f"NumPy reference twin of fusedoptim.{cls.__name__}."
    return type(cls.__name__, (cls,), {"_functional": functional, "__module__": __name__,
                                       "__doc__": doc})


SGD = _twin(_optim.SGD)
Adagrad = _twin(_optim.Adagrad)
RMSprop = _twin(_optim.RMSprop)
Adam = _twin(_optim.Adam)
AdamW = _twin(_optim.AdamW)
Rprop = _twin(_optim.Rprop)
Adamax = _twin(_optim.Adamax)
NAdam = _twin(_optim.NAdam)
RAdam = _twin(_optim.RAdam)
Adadelta = _twin(_optim.Adadelta)
ASGD = _twin(_optim.ASGD)
Lion = _twin(_optim.Lion)
LAMB = _twin(_optim.LAMB)
LARS = _twin(_optim.LARS)
Adafactor = _twin(_optim.Adafactor)
Muon = _twin(_optim.Muon)
Adam8bit = _twin(_optim.Adam8bit)
AdamW8bit = _twin(_optim.AdamW8bit)
SGD8bit = _twin(_optim.SGD8bit)
Lion8bit = _twin(_optim.Lion8bit)

__all__ = ["functional", "losses", "clip", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop",
           "Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "Lion", "LAMB", "LARS", "Adafactor",
           "Muon", "Adam8bit", "AdamW8bit", "SGD8bit", "Lion8bit"]
