"""A result that is not there yet: what an RPC handler returns instead
of waiting (on a thread of its own) for the store to commit its record::

    pending = Pending(commit_future, lambda f: f.result()[0])
    record = resolve(pending, timeout=120)      # a caller that can wait

The RPC server (:mod:`share_worker.amqp.rpc`) does not wait: once
``pending.future`` is done it calls ``pending.then(future)`` on one of
its threads, which gives the result, raises, or gives another
:class:`Pending` (a result that depends on a later future). A request
stays in hand, unacknowledged, until its result is there, so a worker
that dies meanwhile loses nothing: the broker delivers it again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent import futures
from typing import Any


@dataclasses.dataclass(frozen=True)
class Pending:
    """The result ``then(future)`` gives once *future* is done; *about*
    names what it waits for, for messages."""

    future: futures.Future
    then: Callable[[futures.Future], Any]
    about: str = ""

    def map(self, fn: Callable[[Any], Any]) -> Pending:
        """The pending result of ``fn(result)``."""
        return Pending(self.future,
                       lambda future: apply(fn, self.then(future)),
                       self.about)


def apply(fn: Callable[[Any], Any], value: Any) -> Any:
    """``fn(value)``, or the pending ``fn(result)`` of a pending
    *value*."""
    if isinstance(value, Pending):
        return value.map(fn)
    return fn(value)


def resolve(value: Any, timeout: float | None = None) -> Any:
    """*value*, or the result of a pending one once it is there (in at
    most *timeout* seconds per future waited on, else
    ``concurrent.futures.TimeoutError``)."""
    while isinstance(value, Pending):
        done, _ = futures.wait([value.future], timeout)
        if not done:
            raise futures.TimeoutError()
        value = value.then(value.future)
    return value
