"""Optimizer classes with torch.optim's names, keywords and defaults."""
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .base import Optimizer
from .eightbit import Adam8bit, AdamW8bit, Lion8bit, Optimizer8bit, SGD8bit
from .lamb import LAMB
from .lars import LARS
from .lion import Lion
from .muon import Muon
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop", "Adamax", "NAdam",
           "RAdam", "Adadelta", "ASGD", "Lion", "LAMB", "LARS", "Adafactor", "Muon",
           "Adam8bit", "AdamW8bit", "SGD8bit", "Lion8bit", "Optimizer8bit"]
