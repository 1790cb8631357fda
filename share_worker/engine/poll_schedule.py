"""When to look next at each Manila object the engine waits on, learnt
from how long the recent waits of the same kind took::

    looks = PollSchedule(floor=0.2, ceiling=1.0)
    looks.started("op-1", "snapshot", now)    # the wait began
    looks.due("op-1", now)                    # time for a look?
    looks.looked("op-1", now)                 # still waiting: next look
    looks.ended("op-1", now)                  # it ended: learn, forget
    looks.next_due()                          # the soonest look of all

A new wait's first look comes when the recent waits of its kind (per
backend too, when the caller can tell one: ``kind`` may be
``"snapshot@host"``) were last seen still waiting: the median of those
ages, at least *floor* after the start; from a *floor* before that age
until twice it, it is looked at every *floor* (it is about to end).
Otherwise each look comes after a quarter of the wait's age so far,
between *floor* and *ceiling* seconds: a wait of a few seconds is
looked at every *floor*, one of an hour every *ceiling*. Nothing learnt
yet: the first look is after *floor*. Times are seconds on any
monotonic clock.
"""

from __future__ import annotations

import collections
import statistics
import threading

#: recent waits remembered per kind
HISTORY = 32
#: a later look comes after this share of the wait's age so far
GROWTH = 0.25


class PollSchedule:
    """See the module docstring. Thread-safe."""

    def __init__(self, floor: float, ceiling: float,
                 history: int = HISTORY) -> None:
        if not 0 < floor <= ceiling:
            raise ValueError("need 0 < floor <= ceiling, got %r, %r"
                             % (floor, ceiling))
        self.floor = floor
        self.ceiling = ceiling
        self._history = history
        self._lock = threading.Lock()
        #: key -> (kind, started, last look that found it waiting, due)
        self._waits: dict[str, list] = {}
        #: kind -> recent ages at which an ended wait was last seen waiting
        self._learnt: dict[str, collections.deque] = {}

    def expected(self, kind: str) -> float | None:
        """Seconds the recent waits of *kind* were still going at their
        last look (median), or None before any ended."""
        with self._lock:
            return self._expected(kind)

    def _expected(self, kind: str) -> float | None:
        ages = self._learnt.get(kind)
        return statistics.median(ages) if ages else None

    def started(self, key: str, kind: str, now: float) -> float:
        """A wait began at *now* (a no-op for a known *key*); when its
        next look is due."""
        with self._lock:
            wait = self._waits.get(key)
            if wait is None:
                expected = self._expected(kind)
                first = self.floor if expected is None else \
                    max(self.floor, expected)
                wait = self._waits[key] = [kind, now, None, now + first]
            return wait[3]

    def known(self, key: str) -> bool:
        with self._lock:
            return key in self._waits

    def due(self, key: str, now: float) -> bool:
        with self._lock:
            wait = self._waits.get(key)
            return wait is None or now >= wait[3]

    def looked(self, key: str, now: float) -> None:
        """A look at *now* found *key* still waiting."""
        with self._lock:
            wait = self._waits.get(key)
            if wait is None:
                return
            expected = self._expected(wait[0])
            age = now - wait[1]
            wait[2] = age
            if expected is not None and \
                    expected - self.floor <= age < 2 * expected:
                pause = self.floor           # about to end
            else:
                pause = min(self.ceiling, max(self.floor, GROWTH * age))
            wait[3] = now + pause

    def ended(self, key: str, now: float) -> None:
        """The wait of *key* ended (seen done at *now*): learn when it was
        last seen waiting, and forget it."""
        with self._lock:
            wait = self._waits.pop(key, None)
            if wait is None:
                return
            kind, started, last_waiting, _ = wait
            age = last_waiting if last_waiting is not None else \
                max(0.0, now - started - self.floor)
            ages = self._learnt.setdefault(
                kind, collections.deque(maxlen=self._history))
            ages.append(age)

    def forget(self, key: str) -> None:
        """*key* is no longer waited on here (let go of, timed out)."""
        with self._lock:
            self._waits.pop(key, None)

    def next_due(self) -> float | None:
        """The soonest look due, or None when nothing is waited on."""
        with self._lock:
            return min((w[3] for w in self._waits.values()), default=None)
