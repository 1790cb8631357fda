"""Fault rules that hold a request before it is processed."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.conftest import wait_for


class Held:
    """Runs one ``api`` call in a thread; ``.result`` once it returns."""

    def __init__(self, api, *args) -> None:
        self.result = None
        self._thread = threading.Thread(target=self._run, args=(api, args),
                                        daemon=True)
        self._thread.start()

    def _run(self, api, args) -> None:
        self.result = api(*args)

    def join(self, timeout: float = 10.0):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "held request never returned"
        return self.result


@pytest.fixture
def share_id(sim):
    return sim.create_share("proj")


def _held_count(sim, rule_id, held):
    return lambda: sim.fault_stats(rule_id)["held"] == held


def test_held_create_takes_effect_only_when_released(api, sim, share_id):
    rule_id = sim.inject_http_fault("POST", r"/snapshots$", status=None,
                                    hold=60)
    create = Held(api, "POST", "/v2/snapshots",
                  {"snapshot": {"share_id": share_id, "name": "late"}})
    wait_for(_held_count(sim, rule_id, 1), what="the create to be held")
    assert sim.snapshots() == []
    # other requests are served meanwhile
    assert api("GET", "/v2/snapshots/detail") == (200, {"snapshots": []})
    assert api("GET", f"/v2/shares/{share_id}")[0] == 200
    assert sim.fault_stats(rule_id) == {
        "id": rule_id, "hits": 1, "held": 1, "processed": 0,
        "active": False,  # count=1 is used up, yet still reported
    }
    assert [r["id"] for r in sim.http_faults.list()] == [rule_id]
    assert sim.stats()["requests"].get("POST /snapshots") is None
    sim.release_hold(rule_id)
    status, body = create.join()
    assert status == 202 and body["snapshot"]["name"] == "late"
    assert [s["id"] for s in sim.snapshots()] == [body["snapshot"]["id"]]
    assert sim.fault_stats(rule_id)["processed"] == 1
    assert sim.http_faults.list() == []
    assert sim.stats()["requests"]["POST /snapshots"] == 1


def test_hold_ends_by_itself_after_its_seconds(api, sim, share_id):
    rule_id = sim.inject_http_fault("POST", r"/snapshots$", status=None,
                                    hold=0.3)
    started = time.monotonic()
    create = Held(api, "POST", "/v2/snapshots",
                  {"snapshot": {"share_id": share_id}})
    wait_for(lambda: sim.fault_stats(rule_id)["hits"] == 1)
    wait_for(lambda: sim.fault_stats(rule_id)["processed"] == 1,
             what="the hold to end")
    assert time.monotonic() - started >= 0.3
    assert create.join()[0] == 202
    assert len(sim.snapshots()) == 1


def test_hold_combines_with_status_drop_and_latency(api, sim, share_id):
    req = {"snapshot": {"share_id": share_id}}
    refused = sim.inject_http_fault("POST", r"/snapshots$", status=503,
                                    hold=60)
    call = Held(api, "POST", "/v2/snapshots", req)
    wait_for(_held_count(sim, refused, 1))
    sim.release_hold(refused)
    assert call.join()[0] == 503 and sim.snapshots() == []

    dropped = sim.inject_http_fault("POST", r"/snapshots$", drop=True,
                                    drop_after_processing=True, hold=60)
    call = Held(api, "POST", "/v2/snapshots", req)
    wait_for(_held_count(sim, dropped, 1))
    assert sim.snapshots() == []
    sim.release_hold(dropped)
    assert call.join() == (None, None) and len(sim.snapshots()) == 1

    slow = sim.inject_http_fault("GET", "/types", status=None, hold=0.01,
                                 latency=2.0)
    outcome = sim.serve("GET", "/v2/types", {}, {"X-Auth-Token": "u:p"},
                        b"", "http://sim")
    assert (outcome.response.status, outcome.latency) == (200, 2.0)
    assert sim.fault_stats(slow)["processed"] == 1


def test_removing_or_clearing_releases_held_requests(api, sim, share_id):
    req = {"snapshot": {"share_id": share_id}}
    rule_id = sim.inject_http_fault("POST", r"/snapshots$", status=None,
                                    hold=60, count=None)
    first, second = (Held(api, "POST", "/v2/snapshots", req)
                     for _ in range(2))
    wait_for(_held_count(sim, rule_id, 2))
    sim.remove_http_fault(rule_id)
    assert first.join()[0] == second.join()[0] == 202
    assert sim.fault_stats(rule_id)["processed"] == 2
    rule_id = sim.inject_http_fault("POST", r"/snapshots$", status=None,
                                    hold=60)
    third = Held(api, "POST", "/v2/snapshots", req)
    wait_for(_held_count(sim, rule_id, 1))
    sim.clear_faults()
    assert third.join()[0] == 202 and len(sim.snapshots()) == 3
    with pytest.raises(LookupError):
        sim.fault_stats(rule_id)


def _control(sim, method, path, body=None):
    outcome = sim.serve(method, path, {}, {},
                        json.dumps(body).encode() if body else b"", "")
    return outcome.response.status, json.loads(outcome.response.body)


def test_hold_over_the_control_surface(api, sim, share_id):
    status, body = _control(sim, "POST", "/_sim/faults", {
        "method": "POST", "path": r"/snapshots$", "status": None,
        "hold": 60,
    })
    rule_id = body["id"]
    assert _control(sim, "GET", "/_sim/faults")[1]["faults"][0]["hold"] \
        == 60
    create = Held(api, "POST", "/v2/snapshots",
                  {"snapshot": {"share_id": share_id}})
    wait_for(lambda: _control(sim, "GET", f"/_sim/faults/{rule_id}")[1][
        "held"] == 1)
    listed = _control(sim, "GET", "/_sim/faults")[1]["faults"]
    assert [(r["id"], r["hold"], r["count"], r["active"], r["hits"],
             r["held"], r["processed"])
            for r in listed] == [(rule_id, 60, 0, False, 1, 1, 0)]
    assert _control(sim, "POST", f"/_sim/faults/{rule_id}/release") == (
        200, {}
    )
    assert create.join()[0] == 202
    assert _control(sim, "GET", f"/_sim/faults/{rule_id}")[1][
        "processed"] == 1
    assert _control(sim, "GET", "/_sim/faults/999")[0] == 404
    assert _control(sim, "POST", "/_sim/faults",
                    {"method": "GET", "path": "x", "hold": -1})[0] == 400
