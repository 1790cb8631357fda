"""The worker over RabbitMQ against the real Keystone and Manila: a
project user's token in the RPC context, the service user from
``[manila_client]``, status events checked by an independent listener
against the published schemas."""

import pytest

from tests.conftest import wait_for
from tests.functional.cloud.shares import DEADLINE, gone, status_is

pytestmark = pytest.mark.real_cloud
SHARE = "OS::Manila::Share"
PROJECT_TYPE = "OS::Keystone::Project"


def test_protect_restore_revert_delete(real_cloud, start_service, rpc,
                                       events, shares):
    start_service()
    share = shares.create("sw-user-a")
    manila = real_cloud.manila("sw-user-a")
    ctx = real_cloud.context("sw-user-a")

    cp = rpc.protect(ctx, {"type": SHARE, "id": share.id})
    assert cp["status"] == "protecting"
    assert cp["project_id"] == ctx.project_id
    end = events.wait(cp["id"], "share_worker.checkpoint.protect.end",
                      timeout=DEADLINE)
    snapshot = manila.share_snapshots.get(end["saved_info"]["snapshot_id"])
    assert snapshot.status == "available"
    assert snapshot.project_id == ctx.project_id     # made as the user
    assert snapshot.share_id == share.id
    assert end["saved_info"]["share_type"] == real_cloud.share_type_id
    assert rpc.show_checkpoint(ctx, cp["id"])["status"] == "available"

    restore = rpc.restore(ctx, cp["id"], {"restore_name": "sw-copy"})
    assert restore["status"] == "in_progress"
    done = events.wait(restore["id"], "share_worker.restore.end",
                       timeout=DEADLINE)
    shares.adopt(done["target"]["share_id"])
    copy = manila.shares.get(done["target"]["share_id"])
    assert (copy.name, copy.status) == ("sw-copy", "available")
    assert copy.snapshot_id == snapshot.id
    assert copy.project_id == ctx.project_id

    revert = rpc.restore(ctx, cp["id"], {"share_id": share.id})
    assert revert["target"] == {"share_id": share.id, "mode": "revert"}
    events.wait(revert["id"], "share_worker.restore.end", timeout=DEADLINE)
    assert manila.shares.get(share.id).status == "available"
    assert rpc.show_restore(ctx, revert["id"])["status"] == "success"

    assert rpc.delete(ctx, cp["id"])["status"] == "deleting"
    events.wait(cp["id"], "share_worker.checkpoint.delete.end",
                timeout=DEADLINE)
    wait_for(gone(manila.share_snapshots.get, snapshot.id), timeout=DEADLINE,
             interval=0.2, what="the snapshot deleted in Manila")
    assert events.for_record(cp["id"]) == [
        "share_worker.checkpoint.protect.start",
        "share_worker.checkpoint.protect.end",
        "share_worker.checkpoint.delete.start",
        "share_worker.checkpoint.delete.end"]
    assert events.for_record(restore["id"]) == [
        "share_worker.restore.start", "share_worker.restore.end"]


def test_revert_to_an_older_snapshot_is_refused(real_cloud, start_service,
                                                rpc, events, shares):
    """Manila reverts to the latest snapshot only: the failure is the
    restore's error event, and the share stays available."""
    start_service()
    share = shares.create("sw-user-a")
    ctx = real_cloud.context("sw-user-a")
    first = rpc.protect(ctx, {"type": SHARE, "id": share.id})
    events.wait(first["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    second = rpc.protect(ctx, {"type": SHARE, "id": share.id})
    events.wait(second["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    revert = rpc.restore(ctx, first["id"], {"share_id": share.id})
    error = events.wait(revert["id"], "share_worker.restore.error",
                        timeout=DEADLINE)
    assert "latest" in error["error"]["message"], error
    manila = real_cloud.manila("sw-user-a")
    wait_for(status_is(manila.shares.get, share.id, "available"),
             timeout=DEADLINE, interval=0.2, what="the share available")


def test_protectables_of_a_project(real_cloud, start_service, rpc, shares):
    start_service()
    mine = shares.create("sw-user-a")
    theirs = shares.create("sw-user-b")
    ctx = real_cloud.context("sw-user-a")
    project = ctx.project_id

    assert set(rpc.list_protectable_types(ctx)) >= {SHARE, PROJECT_TYPE}
    assert rpc.show_protectable_type(ctx, PROJECT_TYPE) == {
        "name": PROJECT_TYPE, "dependent_types": [SHARE]}

    listed = {r["id"]: r for r in rpc.list_protectable_instances(ctx, SHARE)}
    assert mine.id in listed and theirs.id not in listed
    assert listed[mine.id]["extra_info"]["project_id"] == project
    shown = rpc.show_protectable_instance(ctx, SHARE, mine.id)
    assert (shown["id"], shown["name"]) == (mine.id, mine.name)
    assert shown["extra_info"]["protectable"] is True

    projects = rpc.list_protectable_instances(ctx, PROJECT_TYPE)
    assert [p["id"] for p in projects] == [project]
    dependents = rpc.list_protectable_dependents(ctx, PROJECT_TYPE, project)
    ids = {r["id"] for r in dependents}
    assert mine.id in ids and theirs.id not in ids
    assert {r["type"] for r in dependents} == {SHARE}
