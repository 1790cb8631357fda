"""Microversion negotiation and gating, version documents, identities."""

from __future__ import annotations


def test_root_lists_versions_with_configured_max(api, sim):
    sim.set_max_version("2.26")
    status, body = api("GET", "/", token=None, version=None)
    assert status == 300
    (doc,) = body["versions"]
    assert (doc["id"], doc["status"], doc["version"], doc["min_version"]) == (
        "v2.0", "CURRENT", "2.26", "2.0"
    )
    assert {"rel": "self", "href": "http://sim/v2/"} in doc["links"]


def test_v2_root_needs_a_token_and_lists_versions(api):
    assert api("GET", "/v2/", token=None)[0] == 401
    status, body = api("GET", "/v2/")
    assert status == 200
    assert body["versions"][0]["version"] == "2.98"


def test_version_headers_echoed_even_on_errors(api):
    status, _ = api("GET", "/v2/shares/nope", version="2.40")
    assert status == 404
    assert api.last_headers["X-OpenStack-Manila-API-Version"] == "2.40"
    assert api.last_headers["Vary"] == "X-OpenStack-Manila-API-Version"


def test_missing_version_header_means_2_0(api, sim):
    share_id = sim.create_share("proj")
    _, body = api("GET", f"/v2/shares/{share_id}", version=None)
    assert api.last_headers["X-OpenStack-Manila-API-Version"] == "2.0"
    assert "user_id" not in body["share"]
    assert body["share"]["share_type"] == "default"  # a name before 2.6


def test_out_of_range_version_is_406_and_malformed_400(api, sim):
    sim.set_max_version("2.72")
    status, body = api("GET", "/v2/shares", version="2.73")
    assert status == 406
    assert body["computeFault"]["message"] == (
        "Version 2.73 is not supported by the API. Minimum is 2.0 and "
        "maximum is 2.72."
    )
    assert api("GET", "/v2/shares", version="two")[0] == 400


def test_revert_is_404_before_2_27(api, sim):
    share_id = sim.create_share("proj")
    snap_id = sim.create_snapshot(share_id)
    status, _ = api("POST", f"/v2/shares/{share_id}/action",
                    {"revert": {"snapshot_id": snap_id}}, version="2.26")
    assert status == 404
    _, body = api("GET", f"/v2/shares/{share_id}", version="2.26")
    assert "revert_to_snapshot_support" not in body["share"]
    _, body = api("GET", f"/v2/shares/{share_id}", version="2.27")
    assert body["share"]["revert_to_snapshot_support"] is True


def test_snapshot_metadata_only_from_2_73(api, sim):
    share_id = sim.create_share("proj")
    req = {"snapshot": {"share_id": share_id, "metadata": {"k": "v"}}}
    _, body = api("POST", "/v2/snapshots", req, version="2.72")
    snap_old = body["snapshot"]
    assert "metadata" not in snap_old
    assert api("GET", f"/v2/snapshots/{snap_old['id']}/metadata",
               version="2.72")[0] == 404
    _, body = api("POST", "/v2/snapshots", req, version="2.73")
    assert body["snapshot"]["metadata"] == {"k": "v"}
    query = {"metadata": "{'k': 'v'}"}
    _, listed = api("GET", "/v2/snapshots/detail", query=query)
    assert [s["id"] for s in listed["snapshots"]] == [body["snapshot"]["id"]]
    _, listed = api("GET", "/v2/snapshots/detail", query=query,
                    version="2.72")
    assert len(listed["snapshots"]) == 2  # filter ignored, as Manila


def test_snapshot_owner_fields_from_2_17(api, sim):
    snap_id = sim.create_snapshot(sim.create_share("proj"))
    _, body = api("GET", f"/v2/snapshots/{snap_id}", version="2.16")
    assert "project_id" not in body["snapshot"]
    _, body = api("GET", f"/v2/snapshots/{snap_id}", version="2.17")
    assert body["snapshot"]["project_id"] == "proj"


def test_force_delete_renamed_in_2_7(api, sim):
    share_id = sim.create_share("proj")
    status, _ = api("POST", f"/v2/shares/{share_id}/action",
                    {"force_delete": None}, token="a:admin", version="2.6")
    assert status == 404
    status, _ = api("POST", f"/v2/shares/{share_id}/action",
                    {"os-force_delete": None}, token="a:admin",
                    version="2.6")
    assert status == 202


def test_missing_or_unknown_token_is_401(api, sim):
    status, body = api("GET", "/v2/shares", token=None)
    assert status == 401
    assert body["error"]["code"] == 401
    sim.configure(strict_auth=True)
    sim.add_token("opaque", "alice", "proj")
    assert api("GET", "/v2/shares", token="u:proj")[0] == 401
    assert api("GET", "/v2/shares", token="opaque")[0] == 200


def test_token_without_project_uses_url_project(api, sim):
    share_id = sim.create_share("proj")
    status, _ = api("GET", f"/v2/proj/shares/{share_id}", token="alice")
    assert status == 200


def test_url_project_must_match_token_project(api):
    status, body = api("GET", "/v2/other/shares", token="u:proj")
    assert status == 400
    assert body["badRequest"]["message"] == "Malformed request url"


def test_links_include_url_project(api, sim):
    share_id = sim.create_share("proj")
    _, body = api("GET", f"/v2/proj/shares/{share_id}")
    assert body["share"]["links"][0]["href"] == (
        f"http://sim/v2/proj/shares/{share_id}"
    )


def test_other_projects_objects_are_404_but_admin_sees_them(api, sim):
    share_id = sim.create_share("other")
    snap_id = sim.create_snapshot(share_id)
    assert api("GET", f"/v2/shares/{share_id}")[0] == 404
    assert api("GET", f"/v2/snapshots/{snap_id}")[0] == 404
    assert api("DELETE", f"/v2/snapshots/{snap_id}")[0] == 404
    assert api("GET", f"/v2/shares/{share_id}", token="a:admin")[0] == 200
    sim.configure(admin_projects=["ops"])
    assert api("GET", f"/v2/shares/{share_id}", token="a:admin")[0] == 404
    assert api("GET", f"/v2/shares/{share_id}", token="a:ops")[0] == 200
