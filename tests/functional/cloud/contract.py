"""The two Manilas the contract scenarios run against, behind one API.

    api = SimulatorApi()            # or RealApi(real_cloud)
    share = api.create_share("a")   # available, in project a
    status, body, headers = api.request("a", "GET", "/shares/" + share["id"])
    api.close()                     # deletes what was made (real cloud)

Users ``a`` and ``b`` are members of two projects, ``admin`` an admin.
Requests are raw HTTP with the user's token, so status codes and fault
bodies are compared as they are on the wire.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from share_worker.simulator.fixture import SimulatorFixture
from tests.conftest import wait_for

DEADLINE = 120
#: What the scenarios ask for unless they say otherwise: the worker's
#: default microversion cap.
VERSION = "2.73"
#: Simulator delays near the real dummy driver's (0.2-0.4 s per step),
#: so the transient statuses are seen on both.
SIM_DELAYS = {"share_create": 0.3, "share_delete": 0.3,
              "snapshot_create": 0.3, "snapshot_delete": 0.3,
              "snapshot_delete_tail": 0.2, "revert": 0.3}


class Api:
    name = "?"
    url = ""                       # the /v2 endpoint
    tokens: dict[str, str] = {}
    projects: dict[str, str] = {}
    share_type = "default"

    def __init__(self) -> None:
        self._made: list[tuple[str, str]] = []
        self._http = requests.Session()

    @property
    def root(self) -> str:
        return self.url.rsplit("/v2", 1)[0]

    def request(self, user: str, method: str, path: str,
                body: Any = None, version: str | None = VERSION,
                query: dict | None = None) -> tuple[int, Any, Any]:
        headers = {"X-Auth-Token": self.tokens[user],
                   "Content-Type": "application/json"}
        if version is not None:
            headers["X-OpenStack-Manila-API-Version"] = version
        resp = self._http.request(
            method, self.url + path, headers=headers, params=query,
            data=None if body is None else json.dumps(body), timeout=60)
        try:
            data = resp.json()
        except ValueError:
            data = resp.text or None
        return resp.status_code, data, resp.headers

    def wait(self, user: str, kind: str, object_id: str,
             wanted: str) -> dict:
        """The object once in *wanted* (fails on an error status); for
        ``gone``, once a GET answers 404. Every status seen on the way is
        in the result's ``seen`` (a 400 answer as 400)."""
        seen: list[Any] = []

        def reached() -> dict | None:
            status, body, _ = self.request(user, "GET",
                                           "/%ss/%s" % (kind, object_id))
            if status == 404 and wanted == "gone":
                return {"seen": seen}
            if status == 200:
                found = body[kind]
                seen.append(found["status"])
                # Manila 23 shows a share whose instance is deleted (and
                # the share not yet) with status null.
                assert "error" not in (found["status"] or ""), found
                if found["status"] == wanted:
                    return dict(found, seen=seen)
            else:
                seen.append(status)
                assert status == 400, (status, body)
            return None

        return wait_for(reached, timeout=DEADLINE, interval=0.05,
                        what=lambda: "%s %s %s; saw %s" % (
                            kind, object_id, wanted, seen))

    def create_share(self, user: str = "a", **extra: Any) -> dict:
        status, body, _ = self.request(user, "POST", "/shares", {"share": {
            "share_proto": "NFS", "size": 1, "share_type": self.share_type,
            **extra}})
        assert status == 200, body
        self._made.append(("share", body["share"]["id"]))
        return self.wait(user, "share", body["share"]["id"], "available")

    def create_snapshot(self, user: str, share_id: str,
                        **extra: Any) -> dict:
        status, body, _ = self.request(user, "POST", "/snapshots", {
            "snapshot": {"share_id": share_id, **extra}})
        assert status == 202, body
        self._made.append(("snapshot", body["snapshot"]["id"]))
        return self.wait(user, "snapshot", body["snapshot"]["id"],
                         "available")

    def made(self, kind: str, object_id: str) -> None:
        self._made.append((kind, object_id))

    def close(self) -> None:
        """Remove what the scenario made: snapshots, then shares."""
        for kind in ("snapshot", "share"):
            for made_kind, object_id in reversed(self._made):
                if made_kind == kind:
                    self._remove(kind, object_id)
        self._http.close()

    def _remove(self, kind: str, object_id: str) -> None:
        status, _, _ = self.request(
            "admin", "POST", "/%ss/%s/action" % (kind, object_id),
            {"force_delete": None})
        if status != 404:
            self.wait("admin", kind, object_id, "gone")


class SimulatorApi(Api):
    name = "simulator"

    def __init__(self) -> None:
        super().__init__()
        self._fixture = SimulatorFixture()
        self._fixture.start()
        sim = self._fixture.sim
        sim.configure(admin_projects=["admin-project"], delays=SIM_DELAYS)
        self.url = self._fixture.url
        self.projects = {"a": "project-a", "b": "project-b",
                         "admin": "admin-project"}
        self.tokens = {user: "user-%s:%s" % (user, project)
                       for user, project in self.projects.items()}

    def close(self) -> None:
        super().close()
        self._fixture.stop()


class RealApi(Api):
    name = "real"

    def __init__(self, cloud: Any) -> None:
        super().__init__()
        self.url = cloud.manila_url
        self.share_type = cloud.share_type
        users = {"a": "sw-user-a", "b": "sw-user-b", "admin": "admin"}
        self.tokens = {key: cloud.token(name) for key, name in users.items()}
        self.projects = {key: cloud.users[name].project_id
                         for key, name in users.items()}
