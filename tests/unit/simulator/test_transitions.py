"""Status transitions driven by the injectable clock, and object faults."""

from __future__ import annotations


def _create_share(api, **extra):
    status, body = api("POST", "/v2/shares",
                       {"share": {"share_proto": "NFS", "size": 1, **extra}})
    assert status == 200, body
    return body["share"]


def _create_snapshot(api, share_id, **extra):
    status, body = api("POST", "/v2/snapshots",
                       {"snapshot": {"share_id": share_id, **extra}})
    assert status == 202, body
    return body["snapshot"]


def _status(api, kind, object_id):
    status, body = api("GET", f"/v2/{kind}s/{object_id}")
    return body[kind]["status"] if status == 200 else status


def test_share_creating_until_delay_passes(api, sim, clock):
    sim.set_delays(share_create=5)
    share = _create_share(api)
    assert share["status"] == "creating"
    clock.advance(4.9)
    assert _status(api, "share", share["id"]) == "creating"
    clock.advance(0.1)
    assert _status(api, "share", share["id"]) == "available"


def test_zero_delay_answers_creating_then_available(api):
    share = _create_share(api)
    assert share["status"] == "creating"
    assert _status(api, "share", share["id"]) == "available"


def test_snapshot_create_and_delete_with_delays(api, sim, clock):
    share_id = sim.create_share("proj")
    sim.set_delays(snapshot_create=2, snapshot_delete=3)
    snap = _create_snapshot(api, share_id)
    clock.advance(2)
    assert _status(api, "snapshot", snap["id"]) == "available"
    assert api("DELETE", f"/v2/snapshots/{snap['id']}") == (202, None)
    assert _status(api, "snapshot", snap["id"]) == "deleting"
    clock.advance(3)
    assert _status(api, "snapshot", snap["id"]) == 404
    assert sim.usage("proj")["snapshots"] == 0


def test_injected_snapshot_error_hits_only_the_named_share(api, sim):
    failing, healthy = sim.create_shares("proj", 2)
    sim.fail_next("snapshot_create", failing)
    good = _create_snapshot(api, healthy)
    bad = _create_snapshot(api, failing)
    again = _create_snapshot(api, failing, force=True)
    assert _status(api, "snapshot", good["id"]) == "available"
    assert _status(api, "snapshot", bad["id"]) == "error"
    assert _status(api, "snapshot", again["id"]) == "available"


def test_injected_snapshot_delete_error(api, sim):
    share_id = sim.create_share("proj")
    snap_id = sim.create_snapshot(share_id)
    sim.fail_next("snapshot_delete")
    api("DELETE", f"/v2/snapshots/{snap_id}")
    assert _status(api, "snapshot", snap_id) == "error_deleting"


def test_share_delete_goes_deleting_then_gone(api, sim, clock):
    share_id = sim.create_share("proj", size=3)
    sim.set_delays(share_delete=1)
    assert api("DELETE", f"/v2/shares/{share_id}") == (202, None)
    assert _status(api, "share", share_id) == "deleting"
    clock.advance(1)
    assert _status(api, "share", share_id) == 404
    assert sim.usage("proj")["gigabytes"] == 0


def test_share_from_snapshot_status_and_error(api, sim):
    share_id = sim.create_share("proj", size=2)
    snap_id = sim.create_snapshot(share_id)
    sim.fail_next("share_create", snap_id)
    new = _create_share(api, snapshot_id=snap_id, size=None)
    assert new["status"] == "creating"      # as Manila 23 answers
    assert new["size"] == 2
    assert new["snapshot_id"] == snap_id
    assert _status(api, "share", new["id"]) == "error"


def test_creating_from_snapshot_shown_as_creating_before_2_54(api, sim):
    # The status an asynchronous driver moves such a share to.
    share_id = sim.create_share("proj")
    snap_id = sim.create_snapshot(share_id)
    sim.set_delays(share_create=10)
    new = _create_share(api, snapshot_id=snap_id)
    sim.set_status("share", new["id"], "creating_from_snapshot")
    _, body = api("GET", f"/v2/shares/{new['id']}", version="2.53")
    assert body["share"]["status"] == "creating"
    _, body = api("GET", f"/v2/shares/{new['id']}", version="2.54")
    assert body["share"]["status"] == "creating_from_snapshot"


def test_revert_moves_share_and_snapshot_then_back(api, sim, clock):
    share_id = sim.create_share("proj", size=1)
    snap_id = sim.create_snapshot(share_id)
    sim.set_delays(revert=4)
    status, _ = api("POST", f"/v2/shares/{share_id}/action",
                    {"revert": {"snapshot_id": snap_id}})
    assert status == 202
    assert _status(api, "share", share_id) == "reverting"
    assert _status(api, "snapshot", snap_id) == "restoring"
    clock.advance(4)
    assert _status(api, "share", share_id) == "available"
    assert _status(api, "snapshot", snap_id) == "available"


def test_injected_revert_failure(api, sim):
    share_id = sim.create_share("proj")
    snap_id = sim.create_snapshot(share_id)
    sim.fail_next("revert", share_id)
    api("POST", f"/v2/shares/{share_id}/action",
        {"revert": {"snapshot_id": snap_id}})
    assert _status(api, "share", share_id) == "reverting_error"
    assert _status(api, "snapshot", snap_id) == "available"


def test_reset_status_cancels_pending_transition(api, sim, clock):
    sim.set_delays(snapshot_create=5)
    share_id = sim.create_share("proj")
    snap = _create_snapshot(api, share_id)
    status, _ = api("POST", f"/v2/snapshots/{snap['id']}/action",
                    {"reset_status": {"status": "error"}}, token="a:admin")
    assert status == 202
    clock.advance(10)
    assert sim.snapshot(snap["id"])["status"] == "error"


def test_set_status_via_python_api(sim):
    share_id = sim.create_share("proj", status="creating")
    sim.set_status("share", share_id, "error")
    assert sim.share(share_id)["status"] == "error"


def test_a_deleted_snapshot_answers_400_during_the_delete_tail(api, sim,
                                                               clock):
    """Manila 23 deletes a snapshot's instance before its row: meanwhile
    a GET of it, and any list holding it, answer 400 (badRequest)."""
    share_id = sim.create_share("proj")
    keep = sim.create_snapshot(share_id)
    snap_id = sim.create_snapshot(share_id)
    sim.set_delays(snapshot_delete=1, snapshot_delete_tail=2)
    assert api("DELETE", f"/v2/snapshots/{snap_id}") == (202, None)
    assert _status(api, "snapshot", snap_id) == "deleting"
    clock.advance(1)
    status, body = api("GET", f"/v2/snapshots/{snap_id}")
    assert status == 400 and body["badRequest"]["code"] == 400
    for path, query in (("/v2/snapshots/detail", None),
                        ("/v2/snapshots", None),
                        ("/v2/snapshots/detail", {"share_id": share_id}),
                        ("/v2/snapshots/detail", {"status": "deleting"})):
        assert api("GET", path, query=query)[0] == 400, (path, query)
    # A list that doesn't hold it is answered.
    status, body = api("GET", "/v2/snapshots/detail",
                       query={"status": "available"})
    assert [s["id"] for s in body["snapshots"]] == [keep]
    clock.advance(2)
    assert _status(api, "snapshot", snap_id) == 404
    status, body = api("GET", "/v2/snapshots/detail")
    assert [s["id"] for s in body["snapshots"]] == [keep]
