"""A Manila v2 REST simulator for tests and benchmarks.

    >>> from share_worker.simulator import SimulatorFixture
    >>> with SimulatorFixture() as fx:
    ...     share_id = fx.sim.create_share("proj", size=1, name="s1")
    ...     manila = fx.client("proj", version="2.73")
    ...     snap = manila.share_snapshots.create(share_id, name="snap")
    ...     fx.sim.snapshot(snap.id)["status"]
    'available'

It serves the subset of the Manila v2 API that share protection uses, so
the real python-manilaclient works against it over HTTP, and behaves as
Manila does: microversions (``X-OpenStack-Manila-API-Version``, 406 out of
range, fields and actions gated by version), fault bodies, status
transitions (``creating`` -> ``available``/``error``, ``deleting`` -> gone
/``error_deleting``, ``reverting``/``restoring``), project visibility,
``all_tenants`` for admins and quotas (413 ``overLimit``).  Snapshots can
be renamed (``PUT /v2[/{project}]/snapshots/{id}`` with ``{"snapshot":
{"display_name", "display_description"}}``, any status, 200 + detail).

Statuses move lazily: an operation schedules its outcome at
``clock() + delay`` and the next request settles what is due, so idle
objects cost nothing.  ``clock`` is injectable.

Python API (:class:`ManilaSimulator`; :class:`SimulatorFixture` runs one
behind an HTTP server on 127.0.0.1 and builds manilaclients for it)::

    sim.configure(max_version=, admin_projects=, strict_auth=, delays=,
                  latency=, default_share_type=) -> dict
    sim.set_delays(share_create=, share_delete=, snapshot_create=,
                   snapshot_delete=, snapshot_delete_tail=, revert=)
        # seconds; the tail: a deleted snapshot answers 400 that long
    sim.set_max_version("2.26")
    sim.add_share_type(name, extra_specs=None, is_public=True) -> dict
    sim.add_token(token, user_id, project_id, is_admin=False)
    sim.set_quota(project_id or None, shares=, gigabytes=, snapshots=,
                  snapshot_gigabytes=)             # -1: unlimited
    sim.create_share(project_id, size=1, name=None, ...) -> id
    sim.create_shares(project_id, count, ...) -> [id]
    sim.create_snapshot(share_id, status="available", ...) -> id
    sim.set_status("share" | "snapshot", id, status)
    sim.share(id) / sim.snapshot(id) -> dict | None
    sim.shares(project_id=None) / sim.snapshots(project_id, share_id)
    sim.inject_http_fault(method, path_regex, status=500, count=1,
                          message=None, drop=False,
                          drop_after_processing=False, latency=0.0,
                          hold=0.0) -> id
        # hold: seconds a matched request waits BEFORE it is processed
        # (a held create makes its object only then); latency: AFTER
    sim.fault_stats(id) -> {"id", "hits", "held", "processed", "active"}
        # also for a used-up or removed rule, until clear_faults()
    sim.release_hold(id)          # end that rule's holds now
    sim.remove_http_fault(id)     # (releases its held requests too)
    sim.http_faults.list() -> [rule dict + counters]
        # active rules, then spent ones with requests in flight
    sim.fail_next(operation, resource_id=None, count=1)
        # share_create | snapshot_create | snapshot_delete | share_delete
        # | revert
    sim.clear_faults(); sim.stats() -> dict; sim.reset_stats()
    sim.reset()

HTTP control surface (same server, JSON bodies = the keyword arguments
above)::

    GET  /_sim/config            PUT    /_sim/config
    GET  /_sim/stats             DELETE /_sim/stats (= POST /_sim/stats/reset)
    POST /_sim/reset
    POST /_sim/shares            {"project_id", "count", ...} -> {"ids"}
    GET  /_sim/shares[/{id}]     PUT    /_sim/shares/{id}/status {"status"}
    POST /_sim/snapshots         {"share_id", ...} -> {"id"}
    GET  /_sim/snapshots[/{id}]  PUT    /_sim/snapshots/{id}/status
    POST /_sim/types             POST   /_sim/tokens
    PUT  /_sim/quotas            PUT    /_sim/quotas/{project_id}
    GET  /_sim/faults            POST   /_sim/faults -> {"id"}
    GET  /_sim/faults/{id}       (= sim.fault_stats; 404 if unknown)
    POST /_sim/faults/{id}/release
    DELETE /_sim/faults[/{id}]   POST   /_sim/object-faults

Standalone: ``share-worker-manila-simulator --port 8786`` prints its
``/v2`` endpoint once listening; ``fixture.manila_client(endpoint,
project_id, version=...)`` builds a manilaclient for it from any process.
"""

from share_worker.simulator.core import ManilaSimulator
from share_worker.simulator.fixture import SimulatorFixture

__all__ = ["ManilaSimulator", "SimulatorFixture"]
