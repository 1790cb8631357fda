"""Waiting on a condition with a deadline, for tests and benchmarks::

    checkpoint = wait_for(lambda: store.find("cp-1"), timeout=30,
                          what="checkpoint cp-1")

*what* may be a callable, to describe what was seen by the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0,
             interval: float = 0.02,
             what: str | Callable[[], str] = "condition") -> Any:
    """Poll *predicate* until it returns something truthy, or raise
    AssertionError once *timeout* seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what() if callable(what)
                                    else what))
        time.sleep(interval)
