"""The protect / restore / delete state machines, phase by phase."""

import pytest
from manilaclient.common.apiclient import exceptions as m_exc

from share_worker import exception
from share_worker.plugins import manila_share_operations as ops
from tests.unit import fakes

OPTIONS = {"snapshot_name": "share_worker-cp-1", "description": "",
           "force": False}


def protect_state(share_id, **options):
    return {"options": dict(OPTIONS, **options),
            "resource": {"type": "OS::Manila::Share", "id": share_id}}


@pytest.fixture
def manila():
    return fakes.FakeManila()


def start_protect(manila, step, op=None):
    """Phase start: show the share, snapshot it."""
    op = op or ops.ProtectShare()
    return op.act("start", step)


def test_protect_snapshots_the_share_and_tags_it(manila):
    share = manila.add_share(share_network_id="net-1")
    step = fakes.FakeStep(manila, protect_state(share.id))
    t = start_protect(manila, step)
    snap_id = step.state["snapshot_id"]
    assert t.phase == "wait_snapshot" and t.wait.id == snap_id
    snap = manila.snapshots.items[snap_id]
    assert snap.name == "share_worker-cp-1"
    assert snap.metadata == {ops.CHECKPOINT_TAG: "cp-1"}
    info = t.record["saved_info"]
    assert info["share_id"] == share.id and info["snapshot_id"] == snap_id
    assert info["share_network_id"] == "net-1" and info["size"] == 1
    assert info["share_proto"] == "NFS"
    assert info["availability_zone"] == "nova"


def test_protect_without_metadata_microversion_tags_by_name(manila):
    manila.version = fakes.api_versions.APIVersion("2.72")
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    start_protect(manila, step)
    call = [c for c in manila.snapshots.calls if c[0] == "create"][0]
    assert call[3] is None  # no metadata sent to an old Manila


def test_protect_adopts_the_snapshot_of_an_earlier_attempt(manila):
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    start_protect(manila, step)
    first = step.state["snapshot_id"]
    again = fakes.FakeStep(manila, protect_state(share.id), maybe_done=True)
    start_protect(manila, again)
    assert again.state["snapshot_id"] == first
    assert len(manila.snapshots.items) == 1


def test_protect_adopts_by_name_when_metadata_is_unavailable(manila):
    manila.version = fakes.api_versions.APIVersion("2.27")
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    start_protect(manila, step)
    again = fakes.FakeStep(manila, protect_state(share.id), maybe_done=True)
    start_protect(manila, again)
    assert len(manila.snapshots.items) == 1


def test_protect_of_a_missing_share_is_resource_not_found(manila):
    step = fakes.FakeStep(manila, protect_state("nope"))
    with pytest.raises(exception.ResourceNotFound) as err:
        start_protect(manila, step)
    assert "nope" in str(err.value)


def test_protect_asks_manila_as_the_caller(manila):
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    start_protect(manila, step)
    assert ("get", share.id) in manila.shares.calls


def test_protect_of_a_busy_share_needs_force(manila):
    share = manila.add_share(status="extending")
    step = fakes.FakeStep(manila, protect_state(share.id))
    with pytest.raises(exception.InvalidState) as err:
        start_protect(manila, step)
    assert "force" in str(err.value)
    forced = fakes.FakeStep(manila, protect_state(share.id, force=True))
    assert start_protect(manila, forced).phase == "wait_snapshot"


def test_protect_of_an_errored_share_says_why_even_with_force(manila):
    share = manila.add_share(status="error")
    step = fakes.FakeStep(manila, protect_state(share.id, force=True))
    with pytest.raises(exception.InvalidState) as err:
        start_protect(manila, step)
    assert "status error" in str(err.value)


def test_quota_exceeded_is_reported_as_such(manila):
    share = manila.add_share()
    manila.snapshots.fail_next.append(
        m_exc.RequestEntityTooLarge(413, "SnapshotLimitExceeded"))
    step = fakes.FakeStep(manila, protect_state(share.id))
    with pytest.raises(exception.QuotaExceeded):
        start_protect(manila, step)


def test_server_errors_are_retryable(manila):
    share = manila.add_share()
    manila.snapshots.fail_next.append(
        m_exc.InternalServerError(500, "boom"))
    step = fakes.FakeStep(manila, protect_state(share.id))
    with pytest.raises(exception.ManilaUnavailable):
        start_protect(manila, step)


def test_available_snapshot_finishes_the_protect(manila):
    step = fakes.FakeStep(manila, {"snapshot_id": "s1"})
    op = ops.ProtectShare()
    assert op.observe("wait_snapshot", step,
                      {"id": "s1", "status": "creating"}) is None
    t = op.observe("wait_snapshot", step, {"id": "s1", "status": "available"})
    assert t.outcome.success


def test_errored_snapshot_is_cleaned_up_then_fails(manila):
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    op = ops.ProtectShare()
    start_protect(manila, step, op)
    snap_id = step.state["snapshot_id"]
    manila.snapshots.items[snap_id].status = "error"
    with pytest.raises(exception.ResourceError) as err:
        op.observe("wait_snapshot", step, {"id": snap_id, "status": "error"})
    step.state["error"] = err.value.to_error()
    t = op.fail(step, err.value)
    assert t.phase == "cleanup" and t.timeout == 60.0
    t = op.act("cleanup", step)
    assert ("delete", snap_id) in manila.snapshots.calls
    assert t.wait.id == snap_id
    t = op.observe("cleanup_wait", step, None)
    assert not t.outcome.success
    assert t.outcome.error["code"] == "ResourceError"
    assert "was removed" in t.outcome.error["message"]


def test_cleanup_of_a_busy_snapshot_force_deletes(manila):
    step = fakes.FakeStep(manila, {"cleanup": "s1",
                                   "error": {"code": "x", "message": "m"}})
    manila.snapshots.items["s1"] = fakes.obj(id="s1", status="creating")
    manila.snapshots.fail_next.append(m_exc.BadRequest(400, "busy"))
    ops.ProtectShare().act("cleanup", step)
    assert ("force_delete", "s1") in manila.snapshots.calls


def test_a_failure_during_cleanup_finishes_the_operation(manila):
    step = fakes.FakeStep(manila, {"cleanup": "s1", "snapshot_id": "s1",
                                   "error": {"code": "Orig", "message": "m"}})
    t = ops.ProtectShare().fail(step, exception.ManilaUnavailable(
        reason="down"))
    assert t.outcome.error["code"] == "Orig"
    assert "could not be removed" in t.outcome.error["message"]


def restore_state(mode, share_id=None):
    return {"options": {"restore_name": "r1"},
            "target": {"share_id": share_id, "mode": mode},
            "saved_info": {"share_id": "src", "snapshot_id": "snap-src",
                           "size": 2, "share_proto": "NFS",
                           "share_network_id": "net"}}


def test_restore_creates_a_tagged_share_from_the_snapshot(manila):
    step = fakes.FakeStep(manila, restore_state("new"), record_id="r-1")
    t = ops.RestoreShare().act("start", step)
    new = manila.shares.items[step.state["share_id"]]
    assert new.metadata == {ops.RESTORE_TAG: "r-1"} and new.name == "r1"
    kw = manila.shares.calls[-1][3]
    assert kw["snapshot_id"] == "snap-src" and kw["share_network"] == "net"
    assert t.record["target"] == {"share_id": new.id, "mode": "new"}


def test_restore_adopts_its_share_after_a_crash(manila):
    step = fakes.FakeStep(manila, restore_state("new"), record_id="r-1")
    ops.RestoreShare().act("start", step)
    again = fakes.FakeStep(manila, restore_state("new"), record_id="r-1",
                           maybe_done=True)
    ops.RestoreShare().act("start", again)
    assert len(manila.shares.items) == 1


def test_failed_restored_share_is_deleted_but_never_the_source(manila):
    src = manila.add_share(id="src")
    step = fakes.FakeStep(manila, restore_state("new"), record_id="r-1")
    op = ops.RestoreShare()
    op.act("start", step)
    new_id = step.state["share_id"]
    step.state["error"] = {"code": "ResourceError", "message": "x"}
    assert op.fail(step, exception.ResourceError(what="s", status="error")
                   ).phase == "cleanup"
    op.act("cleanup", step)
    assert ("delete", new_id) in manila.shares.calls
    assert ("delete", src.id) not in manila.shares.calls


def revert_setup(manila, **share_kw):
    manila.add_share(id="src", **share_kw)
    manila.snapshots.items["snap-src"] = fakes.obj(
        id="snap-src", share_id="src", status="available",
        created_at="2026-01-01T00:00:00")
    return fakes.FakeStep(manila, restore_state("revert", "src"))


def test_revert_in_place(manila):
    step = revert_setup(manila)
    t = ops.RestoreShare().act("start", step)
    assert ("revert", "src", "snap-src") in manila.shares.calls
    assert t.phase == "wait_revert" and t.wait.id == "src"
    done = ops.RestoreShare().observe("wait_revert", step,
                                      {"id": "src", "status": "available"})
    assert done.outcome.success


def test_revert_needs_microversion_2_27(manila):
    step = revert_setup(manila)
    manila.version = fakes.api_versions.APIVersion("2.26")
    with pytest.raises(exception.InvalidState) as err:
        ops.RestoreShare().act("start", step)
    assert "2.27" in str(err.value)


def test_revert_needs_the_share_type_to_allow_it(manila):
    step = revert_setup(manila, revert_to_snapshot_support=False)
    with pytest.raises(exception.InvalidState) as err:
        ops.RestoreShare().act("start", step)
    assert "revert_to_snapshot_support" in str(err.value)


def test_revert_only_to_the_latest_snapshot(manila):
    step = revert_setup(manila)
    manila.snapshots.items["newer"] = fakes.obj(
        id="newer", share_id="src", status="available",
        created_at="2026-02-01T00:00:00")
    with pytest.raises(exception.InvalidState) as err:
        ops.RestoreShare().act("start", step)
    assert "latest snapshot" in str(err.value) and "newer" in str(err.value)


def test_failed_revert_is_not_cleaned_up(manila):
    step = revert_setup(manila)
    op = ops.RestoreShare()
    op.act("start", step)
    with pytest.raises(exception.ResourceError):
        op.observe("wait_revert", step,
                   {"id": "src", "status": "reverting_error"})
    step.state["error"] = {"code": "ResourceError", "message": "x"}
    t = op.fail(step, exception.ResourceError(what="s", status="x"))
    assert t.outcome is not None and not t.outcome.success


def test_delete_removes_the_snapshot_and_waits_until_gone(manila):
    manila.snapshots.items["s1"] = fakes.obj(id="s1", status="available")
    step = fakes.FakeStep(manila, {"saved_info": {"snapshot_id": "s1"}})
    op = ops.DeleteSnapshot()
    t = op.act("start", step)
    assert t.wait.id == "s1"
    assert op.observe("wait_gone", step,
                      {"id": "s1", "status": "deleting"}) is None
    assert op.observe("wait_gone", step, None).outcome.success


def test_delete_of_a_snapshot_already_gone_is_deleted(manila):
    step = fakes.FakeStep(manila, {"saved_info": {"snapshot_id": "gone"}})
    assert ops.DeleteSnapshot().act("start", step).outcome.success


def test_delete_without_snapshot_is_deleted(manila):
    step = fakes.FakeStep(manila, {"saved_info": {}})
    assert ops.DeleteSnapshot().act("start", step).outcome.success


def test_delete_error_deleting_fails(manila):
    step = fakes.FakeStep(manila, {"saved_info": {"snapshot_id": "s1"}})
    with pytest.raises(exception.ResourceError):
        ops.DeleteSnapshot().observe(
            "wait_gone", step, {"id": "s1", "status": "error_deleting"})
