"""One scenario suite, run against the project's Manila simulator and the
real Manila 23: what the worker relies on, as seen on the wire.

Each scenario runs once per Manila (``manila_api`` is parametrised); the
real one is marked ``real_cloud``. A scenario that fails only on the
simulator is a simulator bug to fix; the differences found so far are in
the issue-4 note (and fixed in ``share_worker/simulator``).
"""

from __future__ import annotations

import pytest
from manilaclient import api_versions

from share_worker.clients import manila as manila_clients
from tests.conftest import wait_for
from tests.functional.cloud.contract import DEADLINE, RealApi, SimulatorApi

NOT_FOUND = {"itemNotFound": {"code": 404,
                              "message": "The resource could not be found."}}


@pytest.fixture(params=["simulator",
                        pytest.param("real", marks=pytest.mark.real_cloud)])
def manila_api(request):
    if request.param == "real":
        api = RealApi(request.getfixturevalue("real_cloud"))
    else:
        api = SimulatorApi()
    yield api
    api.close()


def test_snapshot_lifecycle_and_fields(manila_api):
    api = manila_api
    share = api.create_share("a")
    status, body, _ = api.request("a", "POST", "/snapshots", {"snapshot": {
        "share_id": share["id"], "name": "snap", "description": "d"}})
    assert status == 202
    snap = body["snapshot"]
    api.made("snapshot", snap["id"])
    assert snap["status"] == "creating"
    fields = {"id", "share_id", "status", "name", "description", "size",
              "share_size", "share_proto", "created_at", "links",
              "project_id", "user_id", "metadata"}
    assert set(snap) == fields
    assert (snap["share_id"], snap["size"], snap["share_proto"]) == (
        share["id"], 1, "NFS")
    assert snap["project_id"] == api.projects["a"]
    done = api.wait("a", "snapshot", snap["id"], "available")
    assert set(done["seen"]) <= {"creating", "available"}

    status, body, _ = api.request("a", "GET", "/snapshots/detail",
                                  query={"share_id": share["id"]})
    assert status == 200
    [listed] = body["snapshots"]
    assert set(listed) == fields and listed["status"] == "available"
    status, body, _ = api.request("a", "GET", "/snapshots",
                                  query={"share_id": share["id"]})
    assert set(body["snapshots"][0]) == {"id", "name", "links"}

    status, body, _ = api.request("a", "DELETE", "/snapshots/" + snap["id"])
    assert (status, body) == (202, None)
    gone = api.wait("a", "snapshot", snap["id"], "gone")
    # Manila 23 answers 400 for a moment at the end of a deletion.
    assert set(gone["seen"]) <= {"deleting", 400}, gone
    status, body, _ = api.request("a", "GET", "/snapshots/" + snap["id"])
    assert (status, body) == (404, NOT_FOUND)


def test_snapshot_lists_while_deleting(manila_api):
    """The worker polls with lists while a snapshot is deleted: each
    answer is the list, or Manila's transient 400; in the end it is
    listed no more."""
    api = manila_api
    share = api.create_share("a")
    keep = api.create_snapshot("a", share["id"])
    snaps = [api.create_snapshot("a", share["id"]) for _ in range(3)]
    mine = {snap["id"] for snap in snaps}
    for snap in snaps:
        assert api.request("a", "DELETE", "/snapshots/" + snap["id"])[0] \
            == 202
    queries = [("a", {"share_id": share["id"]}),
               ("a", {"status": "deleting"}),
               ("admin", {"all_tenants": "1",
                          "project_id": api.projects["a"]})]
    answers = set()
    listed: set = set()

    def all_gone() -> bool:
        listed.clear()
        for user, query in queries:
            status, body, _ = api.request(user, "GET", "/snapshots/detail",
                                          query=query)
            answers.add(status)
            if status == 400:
                assert body["badRequest"]["code"] == 400, body
                listed.add("?")
                continue
            assert status == 200, body
            # its own: another test's leftovers in the project don't count
            listed.update(s["id"] for s in body["snapshots"]
                          if s["id"] in mine)
        return not listed

    wait_for(all_gone, timeout=DEADLINE,
             what=lambda: "the snapshots gone; still %s, answers %s"
             % (listed, answers))
    assert answers <= {200, 400}
    status, body, _ = api.request("a", "GET", "/snapshots/detail",
                                  query={"share_id": share["id"]})
    assert [s["id"] for s in body["snapshots"]] == [keep["id"]]


def test_share_from_snapshot(manila_api):
    api = manila_api
    share = api.create_share("a")
    snap = api.create_snapshot("a", share["id"])
    status, body, _ = api.request("a", "POST", "/shares", {"share": {
        "share_proto": "NFS", "size": 1, "snapshot_id": snap["id"],
        "name": "copy", "description": "restored"}})
    assert status == 200, body
    copy = body["share"]
    api.made("share", copy["id"])
    assert copy["status"] == "creating"
    assert (copy["snapshot_id"], copy["size"], copy["name"]) == (
        snap["id"], 1, "copy")
    assert copy["share_type"] == share["share_type"]
    done = api.wait("a", "share", copy["id"], "available")
    assert set(done["seen"]) <= {"creating", "available"}
    assert done["project_id"] == api.projects["a"]


def test_revert_to_latest_snapshot_only(manila_api):
    api = manila_api
    share = api.create_share("a")
    older = api.create_snapshot("a", share["id"])
    latest = api.create_snapshot("a", share["id"])
    action = "/shares/%s/action" % share["id"]

    status, body, _ = api.request("a", "POST", action,
                                  {"revert": {"snapshot_id": older["id"]}})
    assert status == 409
    assert body["conflictingRequest"]["message"] == (
        "Snapshot %s may not be restored because it is not the most recent "
        "snapshot of share %s. Currently the latest snapshot is %s."
        % (older["id"], share["id"], latest["id"]))
    status, body, _ = api.request("a", "POST", action,
                                  {"revert": {"snapshot_id": latest["id"]}},
                                  version="2.26")
    assert (status, body) == (404, NOT_FOUND)
    status, body, _ = api.request("a", "POST", action, {"revert": {}})
    assert status == 400
    assert body["badRequest"]["message"] == (
        "Invalid input for field/attribute revert. Value: {}. "
        "'snapshot_id' is a required property")

    status, _, _ = api.request("a", "POST", action,
                               {"revert": {"snapshot_id": latest["id"]}})
    assert status == 202
    done = api.wait("a", "share", share["id"], "available")
    assert set(done["seen"]) <= {"reverting", "available"}
    assert api.wait("a", "snapshot", latest["id"], "available")


def test_refusals_and_their_bodies(manila_api):
    api = manila_api
    share = api.create_share("a")
    snap = api.create_snapshot("a", share["id"])
    for user, path in (("a", "/shares/nope"), ("a", "/snapshots/nope"),
                       ("b", "/shares/" + share["id"]),
                       ("b", "/snapshots/" + snap["id"])):
        assert api.request(user, "GET", path)[:2] == (404, NOT_FOUND), path
    status, body, _ = api.request("b", "POST", "/snapshots", {
        "snapshot": {"share_id": share["id"]}})
    assert (status, body) == (404, {"itemNotFound": {
        "code": 404, "message": "NotFound: Resource could not be found."}})
    status, body, _ = api.request("a", "POST", "/snapshots", {
        "snapshot": {"share_id": "no-such-share"}})
    assert (status, body) == (404, {"itemNotFound": {
        "code": 404, "message": "NotFound: Resource could not be found."}})

    status, body, _ = api.request("a", "DELETE", "/shares/" + share["id"])
    assert (status, body) == (403, {"forbidden": {"code": 403, "message":
        "Invalid share: Share still has 1 dependent snapshots."}})

    # A share not available yet can't be snapshotted; a snapshot being
    # created can't be deleted.
    status, body, _ = api.request("a", "POST", "/shares", {"share": {
        "share_proto": "NFS", "size": 1, "share_type": api.share_type}})
    young = body["share"]
    api.made("share", young["id"])
    status, body, _ = api.request("a", "POST", "/snapshots", {
        "snapshot": {"share_id": young["id"]}})
    assert (status, body) == (400, {"badRequest": {"code": 400, "message":
        "Invalid share: Source share status must be available."}})
    status, body, _ = api.request("a", "POST", "/snapshots", {
        "snapshot": {"share_id": share["id"]}})
    api.made("snapshot", body["snapshot"]["id"])
    status, body, _ = api.request(
        "a", "DELETE", "/snapshots/" + body["snapshot"]["id"])
    assert (status, body) == (400, {"badRequest": {"code": 400, "message":
        "Invalid share snapshot: Share Snapshot status must be one of "
        "('available', 'error')."}})


def test_snapshot_metadata(manila_api):
    api = manila_api
    share = api.create_share("a")
    snap = api.create_snapshot("a", share["id"],
                               metadata={"share_worker_checkpoint_id": "c1"})
    assert snap["metadata"] == {"share_worker_checkpoint_id": "c1"}
    path = "/snapshots/%s/metadata" % snap["id"]
    assert api.request("a", "GET", path)[:2] == (
        200, {"metadata": {"share_worker_checkpoint_id": "c1"}})
    status, body, _ = api.request(
        "a", "GET", "/snapshots/detail",
        query={"metadata": "{'share_worker_checkpoint_id': 'c1'}"})
    assert [s["id"] for s in body["snapshots"]] == [snap["id"]]
    # Before 2.73 there is no snapshot metadata at all.
    assert api.request("a", "GET", path, version="2.72")[:2] == (
        404, NOT_FOUND)
    status, body, _ = api.request("a", "GET", "/snapshots/" + snap["id"],
                                  version="2.72")
    assert "metadata" not in body["snapshot"]
    status, body, _ = api.request("a", "POST", "/snapshots", {"snapshot": {
        "share_id": share["id"], "metadata": {"k" * 256: "v"}}})
    assert (status, body) == (400, {"badRequest": {"code": 400, "message":
        "Metadata property key is greater than 255 characters."}})


def test_microversions(manila_api):
    api = manila_api
    resp = api._http.get(api.root + "/", timeout=30)
    assert resp.status_code == 300
    [v2] = [v for v in resp.json()["versions"] if v["id"] == "v2.0"]
    assert (v2["status"], v2["min_version"]) == ("CURRENT", "2.0")
    server_max = api_versions.APIVersion(v2["version"])
    assert server_max >= api_versions.APIVersion("2.73")
    # The worker's negotiation: its cap, or the server's maximum.
    assert manila_clients._pick_version(
        resp.json(), api_versions.APIVersion("2.73")).get_string() == "2.73"
    assert manila_clients._pick_version(
        resp.json(), api_versions.APIVersion("2.500")) == server_max

    share = api.create_share("a")
    path = "/shares/" + share["id"]
    status, _, headers = api.request("a", "GET", path)
    assert headers["X-OpenStack-Manila-API-Version"] == "2.73"
    assert "X-OpenStack-Manila-API-Version" in headers["Vary"]
    status, _, headers = api.request("a", "GET", path, version=None)
    assert (status, headers["X-OpenStack-Manila-API-Version"]) == (200,
                                                                   "2.0")
    too_high = "2.%d" % (server_max.ver_minor + 1)
    for version in (too_high, "1.5"):
        status, body, _ = api.request("a", "GET", path, version=version)
        assert (status, body) == (406, {"computeFault": {
            "code": 406, "message": "Version %s is not supported by the "
            "API. Minimum is 2.0 and maximum is %s."
            % (version, server_max.get_string())}})
    status, body, _ = api.request("a", "GET", path, version="bogus")
    assert (status, body) == (400, {"badRequest": {"code": 400, "message":
        "API Version String bogus is of invalid format. Must be of format "
        "MajorNum.MinorNum."}})


def test_all_tenants_listing(manila_api):
    """How the worker's service user polls one project's objects."""
    api = manila_api
    share_a = api.create_share("a")
    share_b = api.create_share("b")
    snap_a = api.create_snapshot("a", share_a["id"])
    snap_b = api.create_snapshot("b", share_b["id"])
    for kind, a_id, b_id in (("snapshots", snap_a["id"], snap_b["id"]),
                             ("shares", share_a["id"], share_b["id"])):
        status, body, _ = api.request(
            "admin", "GET", "/%s/detail" % kind,
            query={"all_tenants": "1", "project_id": api.projects["a"]})
        ids = {o["id"] for o in body[kind]}
        assert a_id in ids and b_id not in ids, kind
        status, body, _ = api.request("admin", "GET", "/%s/detail" % kind)
        assert not {a_id, b_id} & {o["id"] for o in body[kind]}, kind
        # A member's all_tenants is ignored: its own project only.
        status, body, _ = api.request("a", "GET", "/%s/detail" % kind,
                                      query={"all_tenants": "1"})
        ids = {o["id"] for o in body[kind]}
        assert a_id in ids and b_id not in ids, kind
