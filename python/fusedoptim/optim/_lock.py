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
from collections.abc import Callable
from typing import Any, TypeVar, cast

_Method = TypeVar("_Method", bound=Callable[..., Any])

new_lock = threading.RLock


def one_at_a_time(method: _Method) -> _Method:
    """``method`` run holding ``self._lock``."""
    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return cast(_Method, locked)


def without_lock(state: dict[str, Any]) -> dict[str, Any]:
    """An object's ``__dict__`` for pickling: the lock left out (see ``__setstate__``)."""
    state = dict(state)
    state.pop("_lock", None)
    return state
