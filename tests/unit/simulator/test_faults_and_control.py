"""HTTP fault rules, counters, metadata endpoints and the /_sim surface."""

from __future__ import annotations

import json


def test_http_fault_answers_next_n_matching_requests(api, sim):
    sim.inject_http_fault("POST", r"/snapshots$", status=503, count=2)
    share_id = sim.create_share("proj")
    req = {"snapshot": {"share_id": share_id}}
    assert api("GET", "/v2/snapshots")[0] == 200  # method differs
    status, body = api("POST", "/v2/snapshots", req)
    assert (status, body["serviceUnavailable"]["code"]) == (503, 503)
    assert api("POST", "/v2/snapshots", req)[0] == 503
    assert api("POST", "/v2/snapshots", req)[0] == 202
    assert len(sim.snapshots()) == 1  # the faulted requests took no effect
    assert sim.stats()["requests"]["POST /snapshots"] == 3
    assert sim.http_faults.list() == []


def test_http_fault_500_body_and_custom_message(api, sim):
    sim.inject_http_fault(None, "/shares", status=500, message="boom")
    status, body = api("GET", "/v2/shares")
    assert status == 500
    assert body == {"computeFault": {"code": 500, "message": "boom"}}


def test_drop_before_and_after_processing(api, sim):
    share_id = sim.create_share("proj")
    req = {"snapshot": {"share_id": share_id}}
    sim.inject_http_fault("POST", "/snapshots", drop=True)
    assert api("POST", "/v2/snapshots", req) == (None, None)
    assert sim.snapshots() == []
    sim.inject_http_fault("POST", "/snapshots", drop=True,
                          drop_after_processing=True)
    assert api("POST", "/v2/snapshots", req) == (None, None)
    assert len(sim.snapshots()) == 1  # took effect, answer lost


def test_latency_is_reported_to_the_server(sim):
    sim.configure(latency=0.25)
    sim.inject_http_fault("GET", "/types", status=None, latency=1.0)
    outcome = sim.serve("GET", "/v2/types", {}, {"X-Auth-Token": "u:p"},
                        b"", "http://sim")
    assert outcome.latency == 1.25
    assert outcome.response.status == 200


def test_counters_by_route_and_action(api, sim):
    share_id = sim.create_share("proj")
    snap_id = sim.create_snapshot(share_id)
    api("GET", "/v2/snapshots/detail")
    api("GET", "/v2/proj/snapshots/detail")
    api("POST", f"/v2/shares/{share_id}/action",
        {"revert": {"snapshot_id": snap_id}})
    stats = sim.stats()
    assert stats["requests"]["GET /snapshots/detail"] == 2
    assert stats["requests"]["POST /shares/{id}/action"] == 1
    assert stats["actions"] == {"revert": 1}
    assert stats["total"] == 3
    sim.reset_stats()
    assert sim.stats()["total"] == 0


def test_share_metadata_endpoints(api, sim):
    share_id = sim.create_share("proj", metadata={"a": "1"})
    base = f"/v2/shares/{share_id}/metadata"
    assert api("POST", base, {"metadata": {"b": "2"}}) == (
        200, {"metadata": {"a": "1", "b": "2"}}
    )
    assert api("PUT", base, {"metadata": {"c": "3"}}) == (
        200, {"metadata": {"c": "3"}}
    )
    assert api("GET", base + "/c") == (200, {"meta": {"c": "3"}})
    assert api("DELETE", base + "/c") == (200, None)
    assert api("DELETE", base + "/c")[0] == 404
    assert api("GET", base) == (200, {"metadata": {}})


def _control(sim, method, path, body=None):
    outcome = sim.serve(method, path, {}, {},
                        json.dumps(body).encode() if body else b"", "")
    return outcome.response.status, json.loads(outcome.response.body)


def test_control_surface(api, sim, clock):
    status, body = _control(sim, "POST", "/_sim/shares",
                            {"project_id": "proj", "count": 3, "size": 2})
    assert status == 200 and len(body["ids"]) == 3
    share_id = body["ids"][0]
    _control(sim, "PUT", "/_sim/config",
             {"delays": {"snapshot_create": 2}, "max_version": "2.80"})
    assert sim.config()["delays"]["snapshot_create"] == 2.0
    _control(sim, "POST", "/_sim/object-faults",
             {"operation": "snapshot_create", "resource_id": share_id})
    _control(sim, "POST", "/_sim/faults",
             {"method": "GET", "path": "/types", "status": 413})
    assert api("GET", "/v2/types")[0] == 413
    _control(sim, "PUT", "/_sim/quotas/proj", {"snapshots": 5})
    assert sim.store.quota_of("proj")["snapshots"] == 5
    _, snap = api("POST", "/v2/snapshots",
                  {"snapshot": {"share_id": share_id}})
    clock.advance(2)
    _, raw = _control(sim, "GET", f"/_sim/snapshots/{snap['snapshot']['id']}")
    assert raw["status"] == "error"
    _control(sim, "PUT", f"/_sim/shares/{share_id}/status",
             {"status": "error"})
    assert sim.share(share_id)["status"] == "error"
    assert _control(sim, "GET", "/_sim/stats")[1]["total"] == 2
    assert _control(sim, "GET", "/_sim/shares/nope")[0] == 404
    assert _control(sim, "PUT", "/_sim/config", {"bogus": 1})[0] == 400
    _control(sim, "POST", "/_sim/reset")
    assert sim.shares() == [] and sim.config()["max_version"] == "2.98"


def test_seeding_thousands_is_cheap(sim):
    ids = sim.create_shares("bench", 5000)
    assert len(set(ids)) == 5000
    assert sim.usage("bench")["shares"] == 5000
