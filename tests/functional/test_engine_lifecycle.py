"""protect / restore (new, revert) / delete through the engine, against
the Manila simulator over HTTP, on SQLite and PostgreSQL."""

import pytest

from share_worker import exception
from tests.conftest import wait_for
from tests.functional.conftest import PROJECT, user_ctx

SHARE = "OS::Manila::Share"
PROTECT_END = "share_worker.checkpoint.protect.end"
PROTECT_ERROR = "share_worker.checkpoint.protect.error"


def protect_and_wait(engine, share_id, **kw):
    cp = engine.protect(user_ctx(), {"type": SHARE, "id": share_id}, **kw)
    return engine.sink.wait(cp["id"], PROTECT_END)


def test_full_lifecycle(engine, sim):
    sim.sim.set_delays(snapshot_create=0.2, share_create=0.2,
                       snapshot_delete=0.2)
    share_id = sim.sim.create_share(PROJECT, size=3, name="data",
                                    share_network_id="net-1")
    cp = engine.protect(user_ctx(), {"type": SHARE, "id": share_id})
    assert cp["status"] == "protecting"
    done = engine.sink.wait(cp["id"], PROTECT_END)
    info = done["saved_info"]
    snapshot = sim.sim.snapshot(info["snapshot_id"])
    assert snapshot["status"] == "available"
    assert snapshot["share_id"] == share_id
    assert snapshot["name"] == "share_worker-" + cp["id"]
    assert snapshot["metadata"] == {"share_worker_checkpoint_id": cp["id"]}
    assert info["size"] == 3 and info["share_proto"] == "NFS"
    assert info["share_network_id"] == "net-1"
    assert info["availability_zone"] == "nova" and info["share_type"]

    restore = engine.restore(user_ctx(), cp["id"],
                             {"restore_name": "data-back",
                              "restore_description": "from checkpoint"})
    end = engine.sink.wait(restore["id"], "share_worker.restore.end")
    new_share = sim.sim.share(end["target"]["share_id"])
    assert end["target"]["mode"] == "new" and new_share["id"] != share_id
    assert new_share["status"] == "available"
    assert new_share["snapshot_id"] == info["snapshot_id"]
    assert new_share["name"] == "data-back"
    assert new_share["description"] == "from checkpoint"
    assert new_share["size"] == 3

    deleting = engine.delete(user_ctx(), cp["id"])
    assert deleting["status"] == "deleting"
    gone = engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end")
    assert gone["status"] == "deleted"
    assert sim.sim.snapshot(info["snapshot_id"]) is None
    assert engine.sink.for_record(cp["id"]) == [
        "share_worker.checkpoint.protect.start", PROTECT_END,
        "share_worker.checkpoint.delete.start",
        "share_worker.checkpoint.delete.end"]
    assert engine.sink.for_record(restore["id"]) == [
        "share_worker.restore.start", "share_worker.restore.end"]


def test_revert_in_place(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    cp = protect_and_wait(engine, share_id)
    restore = engine.restore(user_ctx(), cp["id"], {"share_id": share_id})
    assert restore["target"] == {"share_id": share_id, "mode": "revert"}
    end = engine.sink.wait(restore["id"], "share_worker.restore.end")
    assert end["status"] == "success"
    assert sim.sim.stats()["requests"].get(
        "POST /shares/{id}/action", 0) >= 1
    assert len(sim.sim.shares(PROJECT)) == 1   # no new share


def test_revert_to_an_older_snapshot_is_refused(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    old = protect_and_wait(engine, share_id)
    protect_and_wait(engine, share_id)
    restore = engine.restore(user_ctx(), old["id"], {"share_id": share_id})
    err = engine.sink.wait(restore["id"], "share_worker.restore.error")
    assert err["error"]["code"] == "InvalidState"
    assert "latest snapshot" in err["error"]["message"]


def test_revert_on_a_type_without_revert_support(engine, sim):
    sim.sim.add_share_type("norevert", extra_specs={
        "driver_handles_share_servers": "False",
        "snapshot_support": "True",
        "create_share_from_snapshot_support": "True",
        "revert_to_snapshot_support": "False"})
    share_id = sim.sim.create_share(PROJECT, share_type="norevert")
    cp = protect_and_wait(engine, share_id)
    restore = engine.restore(user_ctx(), cp["id"], {"share_id": share_id})
    err = engine.sink.wait(restore["id"], "share_worker.restore.error")
    assert err["error"]["code"] == "InvalidState"
    assert "revert_to_snapshot_support" in err["error"]["message"]


def test_old_manila_without_revert_or_snapshot_metadata(engine, sim):
    sim.sim.set_max_version("2.26")
    share_id = sim.sim.create_share(PROJECT)
    cp = protect_and_wait(engine, share_id)
    snapshot = sim.sim.snapshot(cp["saved_info"]["snapshot_id"])
    assert snapshot["name"] == "share_worker-" + cp["id"]
    assert not snapshot.get("metadata")
    restore = engine.restore(user_ctx(), cp["id"], {"share_id": share_id})
    err = engine.sink.wait(restore["id"], "share_worker.restore.error")
    assert err["error"]["code"] == "InvalidState"
    assert "2.27" in err["error"]["message"]
    # A new share still works on an old Manila.
    restore = engine.restore(user_ctx(), cp["id"])
    engine.sink.wait(restore["id"], "share_worker.restore.end")


def test_idempotent_protect(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    ref = {"type": SHARE, "id": share_id}
    first = engine.protect(user_ctx(), ref, checkpoint_id="nightly-1")
    second = engine.protect(user_ctx(), ref, checkpoint_id="nightly-1")
    assert first["id"] == second["id"] == "nightly-1"
    engine.sink.wait("nightly-1", PROTECT_END)
    third = engine.protect(user_ctx(), ref, checkpoint_id="nightly-1")
    assert third["status"] == "available"
    assert len(sim.sim.snapshots(share_id=share_id)) == 1
    assert engine.sink.for_record("nightly-1").count(
        "share_worker.checkpoint.protect.start") == 1


def test_tenant_isolation_of_records(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    cp = protect_and_wait(engine, share_id)
    other = user_ctx("proj-b")
    with pytest.raises(exception.CheckpointNotFound):
        engine.show_checkpoint(other, cp["id"])
    with pytest.raises(exception.CheckpointNotFound):
        engine.restore(other, cp["id"])
    with pytest.raises(exception.CheckpointNotFound):
        engine.delete(other, cp["id"])
    assert engine.list_checkpoints(other) == []
    # proj-b can't snapshot proj-a's share: Manila says it doesn't exist.
    foreign = engine.protect(other, {"type": SHARE, "id": share_id})
    err = engine.sink.wait(foreign["id"], PROTECT_ERROR)
    assert err["error"]["code"] == "ResourceNotFound"
    assert len(sim.sim.snapshots(share_id=share_id)) == 1


def test_protectables_over_http(engine, sim):
    ok = sim.sim.create_share(PROJECT, name="ok")
    bad = sim.sim.create_share(PROJECT, name="bad", status="error")
    sim.sim.create_share("proj-b", name="theirs")
    listed = engine.list_protectable_instances(user_ctx(), SHARE)
    assert [r["id"] for r in listed] == [ok]
    assert listed[0]["name"] == "ok"
    shown = engine.show_protectable_instance(user_ctx(), SHARE, bad)
    assert shown["extra_info"]["protectable"] is False
    with pytest.raises(exception.ResourceNotFound):
        engine.show_protectable_instance(user_ctx(), SHARE, "missing")
    deps = engine.list_protectable_dependents(
        user_ctx(), "OS::Keystone::Project", PROJECT)
    assert [r["id"] for r in deps] == [ok]


def test_polls_are_batched(engine, sim):
    sim.sim.set_delays(snapshot_create=0.5)
    shares = sim.sim.create_shares(PROJECT, 40)
    sim.sim.reset_stats()
    ids = [engine.protect(user_ctx(), {"type": SHARE, "id": s})["id"]
           for s in shares]
    for cid in ids:
        engine.sink.wait(cid, PROTECT_END)
    requests = sim.sim.stats()["requests"]
    assert requests.get("GET /snapshots/{id}", 0) == 0
    assert requests["POST /snapshots"] == 40
    assert sum(requests.values()) / 40 <= 3, requests
    wait_for(lambda: engine.reconciler.held == 0, what="all released")
