"""Optimizer classes with torch.optim's names, keywords and defaults."""
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop"]
