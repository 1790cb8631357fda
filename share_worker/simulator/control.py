"""The ``/_sim`` HTTP control surface (JSON in, JSON out).

    >>> from share_worker.simulator import ManilaSimulator
    >>> sim = ManilaSimulator(clock=lambda: 0.0)
    >>> resp = sim.serve("POST", "/_sim/shares", {}, {},
    ...                  b'{"project_id": "p", "count": 2}', "http://h")
    >>> resp.response.status
    200

Routes map one-to-one onto :class:`~.core.ManilaSimulator` methods; the
package docstring lists them.  Bad arguments answer 400
``{"error": "..."}``; unknown routes 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from share_worker.simulator import router

if TYPE_CHECKING:
    from share_worker.simulator.core import ManilaSimulator


def _routes(sim: ManilaSimulator) -> list[tuple[str, str, Callable]]:
    def seed_shares(body, _args):
        body = dict(body)
        project_id = body.pop("project_id")
        count = int(body.pop("count", 1))
        return {"ids": sim.create_shares(project_id, count, **body)}

    def found(value):
        if value is None:
            raise LookupError("no such object")
        return value

    return [
        ("GET", "/config", lambda b, a: sim.config()),
        ("PUT", "/config", lambda b, a: sim.configure(**b)),
        ("GET", "/stats", lambda b, a: sim.stats()),
        ("DELETE", "/stats", lambda b, a: sim.reset_stats()),
        ("POST", "/stats/reset", lambda b, a: sim.reset_stats()),
        ("POST", "/reset", lambda b, a: sim.reset()),
        ("POST", "/shares", seed_shares),
        ("GET", "/shares", lambda b, a: {"shares": sim.shares()}),
        ("GET", "/shares/{id}", lambda b, a: found(sim.share(a["id"]))),
        ("PUT", "/shares/{id}/status",
         lambda b, a: sim.set_status("share", a["id"], b["status"])),
        ("POST", "/snapshots",
         lambda b, a: {"id": sim.create_snapshot(**b)}),
        ("GET", "/snapshots", lambda b, a: {"snapshots": sim.snapshots()}),
        ("GET", "/snapshots/{id}",
         lambda b, a: found(sim.snapshot(a["id"]))),
        ("PUT", "/snapshots/{id}/status",
         lambda b, a: sim.set_status("snapshot", a["id"], b["status"])),
        ("POST", "/types",
         lambda b, a: {"share_type": sim.add_share_type(**b)}),
        ("POST", "/tokens", lambda b, a: sim.add_token(**b)),
        ("PUT", "/quotas", lambda b, a: sim.set_quota(None, **b)),
        ("PUT", "/quotas/{id}", lambda b, a: sim.set_quota(a["id"], **b)),
        ("GET", "/faults", lambda b, a: {"faults": sim.http_faults.list()}),
        ("POST", "/faults",
         lambda b, a: {"id": sim.inject_http_fault(**b)}),
        ("DELETE", "/faults", lambda b, a: sim.clear_faults()),
        ("GET", "/faults/{id}",
         lambda b, a: sim.fault_stats(int(a["id"]))),
        ("DELETE", "/faults/{id}",
         lambda b, a: sim.remove_http_fault(int(a["id"]))),
        ("POST", "/faults/{id}/release",
         lambda b, a: sim.release_hold(int(a["id"]))),
        ("POST", "/object-faults", lambda b, a: sim.fail_next(**b)),
    ]


class ControlApi:
    """Dispatches ``/_sim/...`` requests to a simulator."""

    def __init__(self, sim: ManilaSimulator) -> None:
        self._table = [
            (method, re.compile(
                "^/_sim" + path.replace("{id}", "(?P<id>[^/]+)") + "/?$"
            ), handler)
            for method, path, handler in _routes(sim)
        ]

    def handle(self, method: str, path: str, body: bytes) -> router.Response:
        for route_method, regex, handler in self._table:
            match = regex.match(path)
            if match and route_method == method:
                return self._call(handler, body, match.groupdict())
        return _reply(404, {"error": f"no control route {method} {path}"})

    @staticmethod
    def _call(handler: Callable, body: bytes,
              args: dict) -> router.Response:
        try:
            payload = json.loads(body) if body else {}
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            result = handler(payload, args)
        except LookupError as exc:
            return _reply(404, {"error": str(exc)})
        except (ValueError, TypeError) as exc:
            return _reply(400, {"error": str(exc)})
        return _reply(200, {} if result is None else result)


def _reply(status: int, payload: dict) -> router.Response:
    return router.Response(
        status,
        router.json_bytes(payload),
        {"Content-Type": "application/json"},
        route="control",
    )
