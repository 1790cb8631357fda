"""The real python-manilaclient against the simulator over HTTP."""

from __future__ import annotations

import json
import urllib.request

import pytest
from keystoneauth1 import exceptions as ks_exceptions
from manilaclient import api_versions
from manilaclient import exceptions as manila_exc

from share_worker.simulator import SimulatorFixture
from share_worker.simulator.fixture import manila_client
from tests.conftest import wait_for


@pytest.fixture
def fx():
    with SimulatorFixture() as fixture:
        yield fixture


@pytest.fixture
def manila(fx):
    return fx.client("proj", version="2.73")


def test_version_discovery(fx, manila):
    found = api_versions.discover_version(
        manila, api_versions.APIVersion("2.73")
    )
    assert found.get_string() == "2.73"
    fx.sim.set_max_version("2.26")
    found = api_versions.discover_version(
        manila, api_versions.APIVersion("2.73")
    )
    assert found.get_string() == "2.26"


def test_share_lifecycle(fx, manila):
    share = manila.shares.create("NFS", 1, name="s1", metadata={"k": "v"})
    assert share.status == "creating"
    share = manila.shares.get(share.id)
    assert (share.status, share.name, share.project_id) == (
        "available", "s1", "proj"
    )
    assert share.share_type_name == "default"
    assert [s.id for s in manila.shares.list()] == [share.id]
    assert manila.shares.list(search_opts={"metadata": {"k": "x"}}) == []
    manila.shares.delete(share)
    with pytest.raises(manila_exc.NotFound):
        manila.shares.get(share.id)


def test_snapshot_lifecycle_with_delay(fx, manila):
    share_id = fx.sim.create_share("proj", size=2)
    fx.sim.set_delays(snapshot_create=0.05, snapshot_delete=0.05)
    snap = manila.share_snapshots.create(share_id, name="p1")
    assert snap.status == "creating"
    wait_for(lambda: manila.share_snapshots.get(snap.id).status
             == "available")
    got = manila.share_snapshots.get(snap.id)
    assert (got.size, got.share_id, got.project_id) == (2, share_id, "proj")
    listed = manila.share_snapshots.list(search_opts={"share_id": share_id})
    assert [s.id for s in listed] == [snap.id]
    manila.share_snapshots.delete(snap)
    assert manila.share_snapshots.get(snap.id).status == "deleting"

    def gone():
        try:
            manila.share_snapshots.get(snap.id)
        except manila_exc.NotFound:
            return True
        return False

    wait_for(gone)


def test_admin_lists_other_projects(fx, manila):
    fx.sim.create_shares("other", 2)
    mine = fx.sim.create_share("proj")
    admin = fx.client("admin", version="2.73")
    assert [s.id for s in manila.shares.list(
        search_opts={"all_tenants": 1})] == [mine]
    listed = admin.shares.list(
        search_opts={"all_tenants": 1, "project_id": "other"}
    )
    assert len(listed) == 2
    assert {s.project_id for s in listed} == {"other"}


def test_share_from_snapshot(fx, manila):
    share_id = fx.sim.create_share("proj", size=3)
    snap_id = fx.sim.create_snapshot(share_id)
    new = manila.shares.create("NFS", 3, snapshot_id=snap_id)
    new = manila.shares.get(new.id)
    assert (new.status, new.snapshot_id, new.size) == (
        "available", snap_id, 3
    )
    with pytest.raises(manila_exc.BadRequest, match="snapshot size"):
        manila.shares.create("NFS", 2, snapshot_id=snap_id)


def test_revert_and_its_refusals(fx, manila):
    sim = fx.sim
    share_id = sim.create_share("proj")
    old = sim.create_snapshot(share_id)
    new_snap = manila.share_snapshots.create(share_id)
    wait_for(lambda: sim.snapshot(new_snap.id)["status"] == "available")
    with pytest.raises(manila_exc.Conflict, match="most recent snapshot"):
        manila.shares.revert_to_snapshot(share_id, old)
    manila.shares.revert_to_snapshot(share_id, new_snap)
    assert manila.shares.get(share_id).status == "available"

    sim.add_share_type("norevert", {"snapshot_support": True})
    plain = sim.create_share("proj", share_type="norevert")
    snap = sim.create_snapshot(plain)
    with pytest.raises(manila_exc.BadRequest, match="capability"):
        manila.shares.revert_to_snapshot(plain, snap)


def test_revert_unavailable_on_old_manila(fx):
    fx.sim.set_max_version("2.26")
    share_id = fx.sim.create_share("proj")
    snap_id = fx.sim.create_snapshot(share_id)
    with pytest.raises(manila_exc.NotAcceptable):
        fx.client("proj", version="2.27").shares.get(share_id)
    old = fx.client("proj", version="2.26")
    share = old.shares.get(share_id)
    assert not hasattr(share, "revert_to_snapshot_support")
    req = urllib.request.Request(
        f"{fx.url}/shares/{share_id}/action", method="POST",
        data=json.dumps({"revert": {"snapshot_id": snap_id}}).encode(),
        headers={"X-Auth-Token": "u:proj",
                 "X-OpenStack-Manila-API-Version": "2.26",
                 "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req)
    assert caught.value.code == 404


def test_snapshot_metadata_at_2_73_not_2_72(fx, manila):
    share_id = fx.sim.create_share("proj")
    snap = manila.share_snapshots.create(share_id, metadata={"policy": "a"})
    assert snap.metadata == {"policy": "a"}
    manila.share_snapshots.set_metadata(snap, {"extra": "1"})
    assert manila.share_snapshots.get_metadata(snap)._info == {
        "policy": "a", "extra": "1"
    }
    found = manila.share_snapshots.list(
        search_opts={"metadata": {"policy": "a"}}
    )
    assert [s.id for s in found] == [snap.id]
    old = fx.client("proj", version="2.72")
    assert not hasattr(old.share_snapshots.get(snap.id), "metadata")
    with pytest.raises(manila_exc.NotFound):
        old.share_snapshots.get_metadata(snap.id)


def test_quota_is_request_entity_too_large(fx, manila):
    fx.sim.set_quota("proj", snapshots=0)
    share_id = fx.sim.create_share("proj")
    with pytest.raises(manila_exc.RequestEntityTooLarge,
                       match="SnapshotLimitExceeded"):
        manila.share_snapshots.create(share_id)


def test_injected_500_and_connection_drop(fx, manila):
    fx.sim.inject_http_fault("GET", r"/shares/detail$", status=500)
    with pytest.raises(manila_exc.ClientException) as caught:
        manila.shares.list()
    assert caught.value.http_status == 500
    fx.sim.inject_http_fault("GET", r"/shares/detail$", drop=True)
    with pytest.raises(ks_exceptions.ConnectFailure):
        manila.shares.list()
    assert manila.shares.list() == []


def test_error_statuses_are_visible(fx, manila):
    share_id = fx.sim.create_share("proj")
    fx.sim.fail_next("snapshot_create", share_id)
    snap = manila.share_snapshots.create(share_id)
    assert manila.share_snapshots.get(snap.id).status == "error"
    fx.sim.fail_next("snapshot_delete")
    manila.share_snapshots.delete(snap)
    assert manila.share_snapshots.get(snap.id).status == "error_deleting"
    admin = fx.client("admin", version="2.73")
    admin.share_snapshots.reset_state(snap.id, "error")
    admin.share_snapshots.force_delete(snap.id)
    with pytest.raises(manila_exc.NotFound):
        manila.share_snapshots.get(snap.id)


def test_delete_share_with_snapshots_is_forbidden(fx, manila):
    share_id = fx.sim.create_share("proj")
    fx.sim.create_snapshot(share_id)
    with pytest.raises(manila_exc.Forbidden, match="1 dependent snapshots"):
        manila.shares.delete(share_id)


def test_registered_token_and_strict_auth(fx):
    fx.sim.configure(strict_auth=True)
    fx.sim.add_token("tok-123", "alice", "proj")
    share_id = fx.sim.create_share("proj")
    manila = fx.client("proj", token="tok-123")
    assert manila.shares.get(share_id).id == share_id
    with pytest.raises(manila_exc.Unauthorized):
        fx.client("proj", token="forged").shares.get(share_id)


def test_counters_per_protect(fx, manila):
    share_id = fx.sim.create_share("proj")
    fx.sim.reset_stats()
    snap = manila.share_snapshots.create(share_id)
    manila.share_snapshots.get(snap.id)
    stats = fx.sim.stats()
    assert stats["requests"] == {
        "POST /snapshots": 1, "GET /snapshots/{id}": 1,
    }


def test_control_surface_over_http(fx):
    req = urllib.request.Request(
        f"{fx.root_url}/_sim/shares", method="POST",
        data=json.dumps({"project_id": "bench", "count": 3}).encode(),
    )
    with urllib.request.urlopen(req) as resp:
        ids = json.loads(resp.read())["ids"]
    assert len(ids) == 3
    with urllib.request.urlopen(f"{fx.root_url}/_sim/stats") as resp:
        assert json.loads(resp.read())["total"] == 0
    assert len(fx.client("bench").shares.list()) == 3


def test_works_as_a_fixtures_fixture():
    import fixtures

    class Case(fixtures.TestWithFixtures):
        def runTest(self):
            fx = self.useFixture(SimulatorFixture())
            share_id = fx.sim.create_share("proj")
            assert fx.client("proj").shares.get(share_id).id == share_id

    result = Case().run()
    assert result.wasSuccessful(), result.errors + result.failures


def test_console_script_prints_endpoint_and_stops_on_sigterm():
    import os
    import signal
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(sys.executable),
                          "share-worker-manila-simulator")
    proc = subprocess.Popen(
        [script, "--port", "0", "--seed-shares", "3", "--project", "p",
         "--snapshot-delay", "2", "--max-version", "2.72"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2")
        with urllib.request.urlopen(url[:-3] + "/_sim/config") as resp:
            config = json.loads(resp.read())
        assert config["delays"]["snapshot_create"] == 2.0
        assert config["max_version"] == "2.72"
        manila = manila_client(url, "p", version="2.72")
        assert len(manila.shares.list()) == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
