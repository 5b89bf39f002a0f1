"""One call at a time per optimizer.

The kernels release the GIL, so two threads stepping one optimizer would otherwise
interleave inside a step (torn step counts and updates, a plan's launch state
rewritten under a running kernel). Every method that reads or replaces an
optimizer's state holds its lock for its whole run; the lock is re-entrant, so a
callable lr that looks at the optimizer cannot deadlock it. Copies (pickle,
deepcopy) get a lock of their own.
"""
from __future__ import annotations

import functools
import threading

new_lock = threading.RLock


def one_at_a_time(method):
    """``method`` run holding ``self._lock``."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


def without_lock(state: dict) -> dict:
    """An object's ``__dict__`` for pickling: the lock left out (see ``__setstate__``)."""
    state = dict(state)
    state.pop("_lock", None)
    return state
