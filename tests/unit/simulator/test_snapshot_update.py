"""PUT /v2[/{project}]/snapshots/{id}: Manila's snapshot update."""

from __future__ import annotations

import pytest


@pytest.fixture
def snap_id(sim):
    share_id = sim.create_share("proj")
    return sim.create_snapshot(share_id, name="old", description="was")


def test_update_renames_and_answers_the_detail_view(api, sim, snap_id):
    status, body = api("PUT", f"/v2/proj/snapshots/{snap_id}",
                       {"snapshot": {"display_name": "new",
                                     "display_description": "now"}})
    assert status == 200
    view = body["snapshot"]
    assert (view["id"], view["name"], view["description"]) == (
        snap_id, "new", "now"
    )
    assert view["metadata"] == {} and view["project_id"] == "proj"
    assert api("GET", f"/v2/snapshots/{snap_id}")[1]["snapshot"][
        "name"] == "new"
    assert sim.stats()["requests"]["PUT /snapshots/{id}"] == 1


def test_update_applies_only_display_fields(api, sim, snap_id):
    status, body = api("PUT", f"/v2/snapshots/{snap_id}", {"snapshot": {
        "name": "ignored", "description": "ignored", "status": "error",
        "size": 9, "display_description": "kept",
    }})
    assert status == 200
    assert (body["snapshot"]["name"], body["snapshot"]["description"],
            body["snapshot"]["status"]) == ("old", "kept", "available")
    snapshot = sim.snapshot(snap_id)
    assert (snapshot["name"], snapshot["status"], snapshot["size"]) == (
        "old", "available", 1
    )
    empty = api("PUT", f"/v2/snapshots/{snap_id}", {"snapshot": {}})
    assert (empty[0], empty[1]["snapshot"]["name"]) == (200, "old")


def test_update_has_no_status_restriction(api, sim, snap_id):
    sim.set_status("snapshot", snap_id, "error_deleting")
    status, body = api("PUT", f"/v2/snapshots/{snap_id}",
                       {"snapshot": {"display_name": None}})
    assert (status, body["snapshot"]["name"]) == (200, None)


def test_update_of_another_projects_snapshot_is_404(api, sim, snap_id):
    status, body = api("PUT", f"/v2/snapshots/{snap_id}",
                       {"snapshot": {"display_name": "x"}}, token="u:other")
    assert status == 404 and body["itemNotFound"]["code"] == 404
    assert api("PUT", "/v2/snapshots/nope",
               {"snapshot": {"display_name": "x"}})[0] == 404
    assert sim.snapshot(snap_id)["name"] == "old"
    admin = api("PUT", f"/v2/snapshots/{snap_id}",
                {"snapshot": {"display_name": "by-admin"}}, token="a:admin")
    assert admin[1]["snapshot"]["name"] == "by-admin"


@pytest.mark.parametrize("body", [
    None, {}, [], {"share": {"display_name": "x"}}, {"snapshots": {}},
])
def test_update_without_a_snapshot_object_is_422(api, sim, snap_id, body):
    status, fault = api("PUT", f"/v2/snapshots/{snap_id}", body)
    assert status == 422
    assert fault["computeFault"]["message"] == (
        "Unable to process the contained instructions"
    )


@pytest.mark.parametrize("field", ["display_name", "display_description"])
def test_too_long_display_field_is_400_like_manila(api, sim, snap_id,
                                                   field):
    ok = api("PUT", f"/v2/snapshots/{snap_id}",
             {"snapshot": {field: "x" * 255}})
    assert ok[0] == 200
    status, fault = api("PUT", f"/v2/snapshots/{snap_id}",
                        {"snapshot": {field: "é" * 256}})
    assert status == 400
    assert fault["badRequest"]["message"] == (
        f"Invalid input received: {field} can only be 255 characters long."
    )
    # checked before the lookup, as Manila does
    assert api("PUT", "/v2/snapshots/nope",
               {"snapshot": {field: "x" * 256}})[0] == 400


def test_non_text_values_are_400(api, sim, snap_id):
    for body in ({"snapshot": None}, {"snapshot": {"display_name": 5}}):
        assert api("PUT", f"/v2/snapshots/{snap_id}", body)[0] == 400
    assert sim.snapshot(snap_id)["name"] == "old"
