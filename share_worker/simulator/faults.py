"""HTTP fault rules and request counters.

    >>> from share_worker.simulator.faults import HttpFaults
    >>> rules = HttpFaults()
    >>> rule_id = rules.add("POST", r"/snapshots$", status=503, count=1)
    >>> rules.take("POST", "/v2/p/snapshots").status
    503
    >>> rules.take("POST", "/v2/p/snapshots") is None
    True

A rule answers the next ``count`` requests whose method and path (no
query; ``re.search``) match, either with ``status`` and Manila's fault
body, or (``drop``) by closing the connection without an answer, before
or after (``drop_after_processing``) the request took effect.  ``latency``
delays the matched requests; :attr:`HttpFaults.latency` delays every one.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import re
import threading


@dataclasses.dataclass
class HttpFault:
    id: int
    method: str | None
    path: str
    status: int | None = 500
    count: int | None = 1  # None: until removed
    message: str | None = None
    drop: bool = False
    drop_after_processing: bool = False
    latency: float = 0.0
    hits: int = 0

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*", method):
            return False
        return self._regex.search(path) is not None

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("_regex", None)
        return out


class HttpFaults:
    """Thread-safe list of :class:`HttpFault` rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rules: list[HttpFault] = []
        self.latency = 0.0

    def add(
        self,
        method: str | None,
        path: str,
        status: int | None = 500,
        count: int | None = 1,
        message: str | None = None,
        drop: bool = False,
        drop_after_processing: bool = False,
        latency: float = 0.0,
    ) -> int:
        rule = HttpFault(
            next(self._ids), method and method.upper(), path, status, count,
            message, drop, drop_after_processing, latency,
        )
        with self._lock:
            self._rules.append(rule)
        return rule.id

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def clear(self) -> None:
        with self._lock:
            self._rules = []
            self.latency = 0.0

    def list(self) -> list[dict]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def take(self, method: str, path: str) -> HttpFault | None:
        """Consume and return the first rule matching a request."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count <= 0:
                            self._rules.remove(rule)
                    return dataclasses.replace(rule)
        return None


class Stats:
    """Counters of requests served, by route and by action."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._routes: collections.Counter = collections.Counter()
            self._actions: collections.Counter = collections.Counter()
            self._statuses: collections.Counter = collections.Counter()

    def count(self, route: str, action: str | None, status: int) -> None:
        with self._lock:
            self._routes[route] += 1
            self._statuses[str(status)] += 1
            if action:
                self._actions[action] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "total": sum(self._routes.values()),
                "requests": dict(self._routes),
                "actions": dict(self._actions),
                "statuses": dict(self._statuses),
            }
