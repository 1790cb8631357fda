"""``ManilaSimulator``: the in-process control API over one simulated Manila.

    >>> from share_worker.simulator import ManilaSimulator
    >>> sim = ManilaSimulator(clock=lambda: 1000.0)
    >>> ids = sim.create_shares("proj", 3)
    >>> sim.share(ids[0])["status"]
    'available'
    >>> sim.fail_next("snapshot_create", ids[0])

It owns the :class:`~.store.Store`, the Manila :class:`~.router.ApiRouter`,
the HTTP fault rules and the request counters.  :meth:`serve` is the one
entry point of the HTTP server; everything else is for tests, benchmarks
and :mod:`.control` (the same surface over HTTP under ``/_sim``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping

from share_worker.simulator import control, errors, models, router
from share_worker.simulator.faults import HttpFault, HttpFaults, Stats
from share_worker.simulator.objects import ObjectsApi
from share_worker.simulator.store import DELAY_NAMES, QUOTA_RESOURCES, Store


@dataclasses.dataclass
class Outcome:
    """What the HTTP server should do with one request."""

    response: router.Response | None  # None: close without answering
    latency: float = 0.0


class ManilaSimulator(ObjectsApi):
    """A Manila v2 API in memory, with knobs for tests."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        max_version: str | None = None,
        admin_projects: Iterable[str] = ("admin",),
        strict_auth: bool = False,
        delays: Mapping[str, float] | None = None,
    ) -> None:
        self.store = Store(clock=clock)
        self.router = router.ApiRouter(self.store)
        self.http_faults = HttpFaults()
        self.stats_counter = Stats()
        self._control = control.ControlApi(self)
        self.configure(
            max_version=max_version,
            admin_projects=admin_projects,
            strict_auth=strict_auth,
            delays=delays,
        )

    # -- HTTP entry point ------------------------------------------------

    def serve(self, method: str, path: str, query: Mapping[str, str],
              headers: Mapping[str, str], body: bytes,
              root_url: str) -> Outcome:
        """Handle one request: control routes, faults, then Manila.

        A fault rule's ``hold`` is spent here, in the calling (request)
        thread, before the request is processed and with no lock held.
        """
        if path.startswith("/_sim"):
            return Outcome(self._control.handle(method, path, body))
        rule = self.http_faults.take(method, path)
        if rule is None:
            response = self.router.handle(
                method, path, query, headers, body, root_url
            )
            self.stats_counter.count(
                response.route, response.action, response.status
            )
            return Outcome(response, self.http_faults.latency)
        try:
            self.http_faults.wait_hold(rule)  # before it takes effect
            return self._serve_faulty(rule, method, path, query, headers,
                                      body, root_url)
        finally:
            self.http_faults.mark_processed(rule.id)

    def _serve_faulty(self, rule: HttpFault, method: str, path: str,
                      query: Mapping[str, str], headers: Mapping[str, str],
                      body: bytes, root_url: str) -> Outcome:
        latency = self.http_faults.latency + rule.latency
        route = self.router.route_name(method, path)
        if rule.drop and rule.drop_after_processing:
            response = self.router.handle(
                method, path, query, headers, body, root_url
            )
            self.stats_counter.count(route, response.action, 0)
            return Outcome(None, latency)
        if rule.drop:
            self.stats_counter.count(route, None, 0)
            return Outcome(None, latency)
        if rule.status:  # answered without taking effect
            error = errors.ApiError(rule.status, rule.message)
            response = router.Response(
                rule.status,
                router.json_bytes(error.body()),
                {"Content-Type": "application/json", **error.headers()},
                route,
            )
        else:  # a latency-only rule
            response = self.router.handle(
                method, path, query, headers, body, root_url
            )
        self.stats_counter.count(route, response.action, response.status)
        return Outcome(response, latency)

    # -- configuration ---------------------------------------------------

    def configure(
        self,
        max_version: str | None = None,
        admin_projects: Iterable[str] | None = None,
        strict_auth: bool | None = None,
        delays: Mapping[str, float] | None = None,
        latency: float | None = None,
        default_share_type: str | None = None,
    ) -> dict:
        """Change settings (None leaves one as is); return them all."""
        store = self.store
        with store.lock:
            if max_version is not None:
                store.max_version = max_version
            if admin_projects is not None:
                store.admin_projects = set(admin_projects)
            if strict_auth is not None:
                store.strict_auth = bool(strict_auth)
            if delays:
                self.set_delays(**delays)
            if default_share_type is not None:
                store.default_type_name = default_share_type
            if latency is not None:
                self.http_faults.latency = float(latency)
            return self.config()

    def config(self) -> dict:
        store = self.store
        with store.lock:
            return {
                "max_version": store.max_version,
                "admin_projects": sorted(store.admin_projects),
                "strict_auth": store.strict_auth,
                "delays": dict(store.delays),
                "latency": self.http_faults.latency,
                "default_share_type": store.default_type_name,
                "default_quota": dict(store.default_quota),
            }

    def set_delays(self, **delays: float) -> None:
        """Set seconds for share_create, share_delete, snapshot_create,
        snapshot_delete, snapshot_delete_tail (how long a deleted snapshot
        answers 400 before it is gone, as in Manila 23) and revert."""
        unknown = set(delays) - set(DELAY_NAMES)
        if unknown:
            raise ValueError(f"unknown delays {sorted(unknown)}")
        with self.store.lock:
            self.store.delays.update(
                {k: float(v) for k, v in delays.items()}
            )

    def set_max_version(self, version: str) -> None:
        self.configure(max_version=version)

    def add_token(self, token: str, user_id: str, project_id: str,
                  is_admin: bool = False) -> None:
        """Register an opaque token, as Keystone would have issued it."""
        with self.store.lock:
            self.store.tokens[token] = models.Identity(
                user_id, project_id, is_admin
            )

    def set_quota(self, project_id: str | None = None,
                  **limits: int) -> None:
        """Set limits (-1 = unlimited) for a project, or the default."""
        unknown = set(limits) - set(QUOTA_RESOURCES)
        if unknown:
            raise ValueError(f"unknown quota resources {sorted(unknown)}")
        with self.store.lock:
            if project_id is None:
                self.store.default_quota.update(limits)
            else:
                self.store.quotas.setdefault(project_id, {}).update(limits)

    def add_share_type(self, name: str,
                       extra_specs: Mapping[str, object] | None = None,
                       is_public: bool = True,
                       type_id: str | None = None) -> dict:
        """Add a share type (``driver_handles_share_servers`` defaults
        False; capabilities absent are False, as in Manila)."""
        share_type = models.ShareType.new(
            name, {k: str(v) for k, v in (extra_specs or {}).items()},
            is_public, type_id,
        )
        with self.store.lock:
            self.store.types[share_type.id] = share_type
        return dataclasses.asdict(share_type)

    # -- faults and counters ---------------------------------------------

    def inject_http_fault(self, method: str | None, path: str,
                          status: int | None = 500, count: int | None = 1,
                          message: str | None = None, drop: bool = False,
                          drop_after_processing: bool = False,
                          latency: float = 0.0, hold: float = 0.0) -> int:
        """Answer the next ``count`` matching requests with ``status``
        (or drop them), ``hold`` seconds before and ``latency`` after
        processing them; return the rule id.  See :mod:`.faults`."""
        return self.http_faults.add(
            method, path, status, count, message, drop,
            drop_after_processing, latency, hold,
        )

    def remove_http_fault(self, rule_id: int) -> None:
        """Stop a rule; requests it holds go on at once."""
        self.http_faults.remove(rule_id)

    def fault_stats(self, rule_id: int) -> dict:
        """``{"id", "hits", "held", "processed", "active"}`` of a rule,
        also once used up or removed (until :meth:`clear_faults`)."""
        return self.http_faults.stats(rule_id)

    def release_hold(self, rule_id: int) -> None:
        """End a rule's holds now (waiting requests and later ones)."""
        self.http_faults.release(rule_id)

    def fail_next(self, operation: str, resource_id: str | None = None,
                  count: int = 1) -> None:
        """Make the next ``count`` ``operation``s on ``resource_id`` (or
        any) end in error: share_create (error; id of the new share's
        source snapshot or its parent share), snapshot_create (error; the
        share's id), snapshot_delete (error_deleting; snapshot or share
        id), share_delete (error_deleting), revert (reverting_error)."""
        with self.store.lock:
            self.store.add_object_fault(operation, resource_id, count)

    def clear_faults(self) -> None:
        self.http_faults.clear()
        with self.store.lock:
            self.store.object_faults.clear()

    def stats(self) -> dict:
        return self.stats_counter.snapshot()

    def reset_stats(self) -> None:
        self.stats_counter.reset()

    def reset(self) -> None:
        """Back to a fresh simulator (keeps the clock)."""
        self.store.reset()
        self.clear_faults()
        self.reset_stats()
