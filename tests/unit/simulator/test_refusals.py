"""Manila's refusals: statuses, revert rules, quotas, with their bodies."""

from __future__ import annotations

import pytest


def test_snapshot_of_unavailable_share_is_400_unless_forced(api, sim):
    share_id = sim.create_share("proj", status="creating")
    status, body = api("POST", "/v2/snapshots",
                       {"snapshot": {"share_id": share_id}})
    assert status == 400
    assert body == {"badRequest": {
        "code": 400,
        "message": "Invalid share: Source share status must be available.",
    }}
    status, _ = api("POST", "/v2/snapshots",
                    {"snapshot": {"share_id": share_id, "force": True}})
    assert status == 202


def test_snapshot_of_type_without_snapshot_support_is_422(api, sim):
    sim.add_share_type("nosnap", {"snapshot_support": False})
    share_id = sim.create_share("proj", share_type="nosnap")
    status, body = api("POST", "/v2/snapshots",
                       {"snapshot": {"share_id": share_id}})
    assert status == 422
    assert "does not have that capability" in body["computeFault"]["message"]


def test_delete_share_with_snapshots_is_403(api, sim):
    share_id = sim.create_share("proj")
    sim.create_snapshot(share_id)
    status, body = api("DELETE", f"/v2/shares/{share_id}")
    assert status == 403
    assert body["forbidden"]["message"] == (
        "Invalid share: Share still has 1 dependent snapshots."
    )


def test_delete_share_while_creating_is_403(api, sim):
    share_id = sim.create_share("proj", status="creating")
    status, body = api("DELETE", f"/v2/shares/{share_id}")
    assert status == 403
    assert "Share status must be one of" in body["forbidden"]["message"]


def test_delete_snapshot_while_creating_is_400(api, sim):
    snap_id = sim.create_snapshot(sim.create_share("proj"), status="creating")
    status, body = api("DELETE", f"/v2/snapshots/{snap_id}")
    assert status == 400
    assert body["badRequest"]["message"].startswith(
        "Invalid share snapshot: Share Snapshot status must be one of"
    )


def test_revert_to_older_snapshot_is_409(api, sim, clock):
    share_id = sim.create_share("proj")
    old = sim.create_snapshot(share_id)
    clock.advance(1)
    new = sim.create_snapshot(share_id)
    status, body = api("POST", f"/v2/shares/{share_id}/action",
                       {"revert": {"snapshot_id": old}})
    assert status == 409
    assert f"latest snapshot is {new}" in (
        body["conflictingRequest"]["message"]
    )


def test_revert_of_unavailable_share_is_409(api, sim):
    share_id = sim.create_share("proj", status="error")
    snap_id = sim.create_snapshot(share_id)
    status, body = api("POST", f"/v2/shares/{share_id}/action",
                       {"revert": {"snapshot_id": snap_id}})
    assert status == 409
    assert "'error' state" in body["conflictingRequest"]["message"]


def test_revert_without_type_support_is_400(api, sim):
    sim.add_share_type("norevert", {"snapshot_support": True})
    share_id = sim.create_share("proj", share_type="norevert")
    snap_id = sim.create_snapshot(share_id)
    status, body = api("POST", f"/v2/shares/{share_id}/action",
                       {"revert": {"snapshot_id": snap_id}})
    assert status == 400
    assert "does not have that capability" in body["badRequest"]["message"]


def test_share_from_unavailable_or_larger_snapshot_is_400(api, sim):
    share_id = sim.create_share("proj", size=5)
    snap_id = sim.create_snapshot(share_id, status="creating")
    req = {"share": {"share_proto": "NFS", "size": 5,
                     "snapshot_id": snap_id}}
    status, body = api("POST", "/v2/shares", req)
    assert (status, body["badRequest"]["message"]) == (
        400, "Invalid share snapshot: status must be 'available'."
    )
    sim.set_status("snapshot", snap_id, "available")
    req["share"]["size"] = 4
    status, body = api("POST", "/v2/shares", req)
    assert status == 400
    assert "must be equal or greater than snapshot size" in (
        body["badRequest"]["message"]
    )


def test_share_quota_413_with_retry_after(api, sim):
    sim.set_quota("proj", shares=1)
    sim.create_share("proj")
    status, body = api("POST", "/v2/shares",
                       {"share": {"share_proto": "NFS", "size": 1}})
    assert status == 413
    assert body == {"overLimit": {
        "code": 413,
        "message": "ShareLimitExceeded: Maximum number of shares allowed "
        "(1) either per project/user or share type quota is exceeded.",
        "retryAfter": "0",
    }}
    assert api.last_headers["Retry-After"] == "0"


def test_gigabytes_and_snapshot_quotas(api, sim):
    sim.set_quota("proj", gigabytes=10, snapshots=0)
    status, body = api("POST", "/v2/shares",
                       {"share": {"share_proto": "NFS", "size": 11}})
    assert status == 413
    assert "gigabytes quota" in body["overLimit"]["message"]
    share_id = sim.create_share("proj")
    status, body = api("POST", "/v2/snapshots",
                       {"snapshot": {"share_id": share_id}})
    assert status == 413
    assert body["overLimit"]["message"].startswith("SnapshotLimitExceeded")
    # another project keeps the generous default
    status, _ = api("POST", "/v2/shares",
                    {"share": {"share_proto": "NFS", "size": 11}},
                    token="u:other")
    assert status == 200


def test_unknown_ids_are_404_item_not_found(api):
    for path in ("/v2/shares/nope", "/v2/snapshots/nope", "/v2/types/nope"):
        status, body = api("GET", path)
        assert status == 404
        assert body["itemNotFound"]["code"] == 404


def test_unknown_action_is_400(api, sim):
    share_id = sim.create_share("proj")
    status, body = api("POST", f"/v2/shares/{share_id}/action",
                       {"explode": {}})
    assert status == 400
    assert body["badRequest"]["message"] == "There is no such action: explode"


def test_admin_actions_need_admin(api, sim):
    share_id = sim.create_share("proj")
    status, body = api("POST", f"/v2/shares/{share_id}/action",
                       {"force_delete": None})
    assert status == 403
    assert body["forbidden"]["message"] == (
        "Access was denied to this resource."
    )
    status, _ = api("POST", f"/v2/shares/{share_id}/action",
                    {"force_delete": None}, token="a:admin")
    assert status == 202
    assert sim.share(share_id) is None


@pytest.mark.parametrize("metadata,message", [
    ({"k" * 256: "v"}, "Metadata property key is greater than 255 "
                       "characters."),
    ({"": "v"}, "Metadata property key is blank."),
    ({"k": ""}, "Metadata property value is blank."),
    ({"k": "v" * 1024}, "Metadata property value is greater than 1023 "
                        "characters."),
])
def test_bad_snapshot_metadata_is_400(api, sim, metadata, message):
    share_id = sim.create_share("proj")
    status, body = api("POST", "/v2/snapshots",
                       {"snapshot": {"share_id": share_id,
                                     "metadata": metadata}})
    assert (status, body["badRequest"]["message"]) == (400, message)
    assert sim.snapshots("proj", share_id) == []
