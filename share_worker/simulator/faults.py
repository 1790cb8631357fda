"""HTTP fault rules and request counters.

    >>> from share_worker.simulator.faults import HttpFaults
    >>> rules = HttpFaults()
    >>> rule_id = rules.add("POST", r"/snapshots$", status=503, count=1)
    >>> rules.take("POST", "/v2/p/snapshots").status
    503
    >>> rules.take("POST", "/v2/p/snapshots") is None
    True
    >>> rules.mark_processed(rule_id)
    >>> rules.stats(rule_id)["hits"], rules.stats(rule_id)["processed"]
    (1, 1)

A rule answers the next ``count`` requests whose method and path (no
query; ``re.search``) match, either with ``status`` and Manila's fault
body, or (``drop``) by closing the connection without an answer, before
or after (``drop_after_processing``) the request took effect; with
``status=None`` and no ``drop`` the request is served normally.
``hold`` delays a matched request *before* it is processed (a slow API
worker that has not handled it yet: a held create makes its object only
when the hold ends); ``latency`` delays it *after* (the object exists at
once, only the answer is late); :attr:`HttpFaults.latency` delays every
request after processing.  Both are wall-clock seconds, spent in the
request's own thread with no lock held, so other requests go on.

Counters, kept by rule id until :meth:`HttpFaults.clear` (also for rules
used up or removed), say where matched requests are: ``hits`` (matched),
``held`` (waiting in their hold now) and ``processed`` (handled: hold
over, effect applied or fault answer built; the answer may still be
sent after ``latency``).  :meth:`HttpFaults.list` returns the active
rules and, marked ``"active": False``, used-up or removed rules that
still have requests in flight (``hits > processed``); :meth:`stats`
returns one rule's counters.  :meth:`release` ends a rule's holds at
once, for requests waiting and later ones; :meth:`remove` and
:meth:`clear` release too.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import re
import threading
import time


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
    hold: float = 0.0

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


@dataclasses.dataclass
class _Counters:
    """Where one rule's matched requests are (see the module doc)."""

    rule: HttpFault  # its ``hits`` counts matched requests
    held: int = 0
    processed: int = 0
    active: bool = True
    released: threading.Event = dataclasses.field(
        default_factory=threading.Event
    )

    def counts(self) -> dict:
        return {"hits": self.rule.hits, "held": self.held,
                "processed": self.processed, "active": self.active}

    def to_dict(self) -> dict:
        return {**self.rule.to_dict(), **self.counts()}


class HttpFaults:
    """Thread-safe list of :class:`HttpFault` rules and their counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rules: list[HttpFault] = []
        self._counters: dict[int, _Counters] = {}
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
        hold: float = 0.0,
    ) -> int:
        hold = float(hold)
        if hold < 0:
            raise ValueError("hold must be >= 0 seconds")
        rule = HttpFault(
            next(self._ids), method and method.upper(), path, status, count,
            message, drop, drop_after_processing, latency, hold=hold,
        )
        with self._lock:
            self._rules.append(rule)
            self._counters[rule.id] = _Counters(rule)
        return rule.id

    def remove(self, rule_id: int) -> None:
        """Stop applying a rule; its held requests go on at once."""
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]
            counters = self._counters.get(rule_id)
            if counters is not None:
                counters.active = False
                counters.released.set()

    def clear(self) -> None:
        """Drop every rule and counter; held requests go on at once."""
        with self._lock:
            for counters in self._counters.values():
                counters.released.set()
            self._rules = []
            self._counters = {}
            self.latency = 0.0

    def release(self, rule_id: int) -> None:
        """End the holds of a rule, for requests waiting and later ones;
        raise :class:`LookupError` for an unknown id."""
        with self._lock:
            self._get(rule_id).released.set()

    def list(self) -> list[dict]:
        """Active rules, then spent ones with requests still in flight."""
        with self._lock:
            out = [self._counters[rule.id].to_dict() for rule in self._rules]
            out += [
                counters.to_dict() for counters in self._counters.values()
                if not counters.active
                and counters.rule.hits > counters.processed
            ]
        return out

    def stats(self, rule_id: int) -> dict:
        """One rule's counters: ``{"id", "hits", "held", "processed",
        "active"}``; raise :class:`LookupError` for an unknown id."""
        with self._lock:
            return {"id": rule_id, **self._get(rule_id).counts()}

    def take(self, method: str, path: str) -> HttpFault | None:
        """Consume and return the first rule matching a request (a copy,
        whose ``hits`` counts this one); count it held if it holds."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    return self._consume(rule)
        return None

    def wait_hold(self, rule: HttpFault) -> None:
        """Hold a request taken by *rule* for ``rule.hold`` seconds or
        until released, in the caller's thread with no lock held."""
        if rule.hold <= 0:
            return
        with self._lock:
            counters = self._counters.get(rule.id)
        if counters is None:  # cleared meanwhile
            return
        try:
            counters.released.wait(rule.hold)
        finally:
            with self._lock:
                counters.held -= 1

    def mark_processed(self, rule_id: int) -> None:
        """Count a request of the rule as handled."""
        with self._lock:
            counters = self._counters.get(rule_id)
            if counters is not None:
                counters.processed += 1

    def _consume(self, rule: HttpFault) -> HttpFault:
        counters = self._counters[rule.id]
        rule.hits += 1
        if rule.hold > 0:
            counters.held += 1
        if rule.count is not None:
            rule.count -= 1
            if rule.count <= 0:
                self._rules.remove(rule)
                counters.active = False
        return dataclasses.replace(rule)

    def _get(self, rule_id: int) -> _Counters:
        counters = self._counters.get(rule_id)
        if counters is None:
            raise LookupError(f"no fault rule {rule_id}")
        return counters


class Stats:
    """Counters of requests served, by route and by action."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._since = time.monotonic()
            #: route -> [first, last] request, seconds since the reset
            self._spans: dict[str, list[float]] = {}
            self._routes: collections.Counter = collections.Counter()
            self._actions: collections.Counter = collections.Counter()
            self._statuses: collections.Counter = collections.Counter()

    def count(self, route: str, action: str | None, status: int) -> None:
        with self._lock:
            at = round(time.monotonic() - self._since, 3)
            self._spans.setdefault(route, [at, at])[1] = at
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
                "spans": {r: list(v) for r, v in self._spans.items()},
            }
