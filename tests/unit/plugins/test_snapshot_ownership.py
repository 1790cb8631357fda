"""A checkpoint's snapshot is found by the checkpoint's tag only
(metadata from 2.73, the name derived from the checkpoint id below),
never by a name a user chose; a second tagged snapshot (a takeover) is
deleted; every change in Manila is fenced."""

import pytest

from share_worker import exception
from share_worker.plugins import manila_share_operations as ops
from tests.unit import fakes


def protect_state(share_id, **options):
    return {"options": dict({"snapshot_name": ops.tag_name("cp-1"),
                             "description": "", "force": False}, **options),
            "resource": {"type": "OS::Manila::Share", "id": share_id}}


@pytest.fixture
def manila():
    return fakes.FakeManila()


def user_snapshot(manila, share_id, name, **kw):
    snap = manila.snapshots.create(share_id, name=name)
    snap.status = "available"
    for key, value in kw.items():
        setattr(snap, key, value)
    return snap


@pytest.mark.parametrize("version", ["2.73", "2.72"])
def test_a_users_snapshot_of_the_same_name_is_never_adopted(manila,
                                                           version):
    manila.version = fakes.api_versions.APIVersion(version)
    share = manila.add_share()
    theirs = user_snapshot(manila, share.id, "nightly")
    # A retry after a lost answer looks for what the first try made.
    step = fakes.FakeStep(manila, protect_state(share.id,
                                                snapshot_name="nightly"),
                          maybe_done=True)
    t = ops.ProtectShare().act("start", step)
    assert step.state["snapshot_id"] != theirs.id
    assert len(manila.snapshots.items) == 2
    if version == "2.72":
        # made under the checkpoint's own name, then named as asked
        made = manila.snapshots.items[step.state["snapshot_id"]]
        assert made.name == ops.tag_name("cp-1")
        assert t.phase == "name_snapshot"
        t = ops.ProtectShare().act("name_snapshot", step)
        assert made.name == "nightly"
    assert t.phase == "wait_snapshot"
    # and deleting the checkpoint leaves the user's snapshot alone
    delete = fakes.FakeStep(manila, {"saved_info": {
        "share_id": share.id, "snapshot_id": step.state["snapshot_id"]}},
        taken_over=True)
    ops.DeleteSnapshot().act("start", delete)
    assert theirs.status == "available"
    assert ("delete", theirs.id) not in manila.snapshots.calls


def test_below_2_73_two_checkpoints_of_one_name_get_two_snapshots(manila):
    manila.version = fakes.api_versions.APIVersion("2.72")
    share = manila.add_share()
    made = []
    for cp in ("cp-1", "cp-2"):
        step = fakes.FakeStep(manila, protect_state(
            share.id, snapshot_name="daily"), record_id=cp, maybe_done=True)
        ops.ProtectShare().act("start", step)
        ops.ProtectShare().act("name_snapshot", step)
        made.append(step.state["snapshot_id"])
    assert made[0] != made[1]
    assert {manila.snapshots.items[s].name for s in made} == {"daily"}


@pytest.mark.parametrize("version", ["2.73", "2.72"])
def test_the_tag_finds_the_snapshot_of_an_earlier_try(manila, version):
    manila.version = fakes.api_versions.APIVersion(version)
    share = manila.add_share()
    first = fakes.FakeStep(manila, protect_state(share.id))
    ops.ProtectShare().act("start", first)
    again = fakes.FakeStep(manila, protect_state(share.id), maybe_done=True)
    ops.ProtectShare().act("start", again)
    assert again.state["snapshot_id"] == first.state["snapshot_id"]
    assert len(manila.snapshots.items) == 1


def test_a_takeover_keeps_one_tagged_snapshot_and_deletes_the_rest(manila):
    share = manila.add_share()
    older = user_snapshot(manila, share.id, "x",
                          metadata={ops.CHECKPOINT_TAG: "cp-1"},
                          created_at="2026-01-01T00:00:00")
    newer = user_snapshot(manila, share.id, "x",
                          metadata={ops.CHECKPOINT_TAG: "cp-1"},
                          created_at="2026-01-01T00:00:05")
    newer.status = "creating"
    step = fakes.FakeStep(manila, protect_state(share.id), taken_over=True)
    t = ops.ProtectShare().act("start", step)
    assert step.state["snapshot_id"] == older.id     # available first
    # a creating one refuses a plain delete: force-deleted
    assert ("force_delete", newer.id) in manila.snapshots.calls or \
        ("delete", newer.id) in manila.snapshots.calls
    assert step.state["contested"] is True
    # once available, the takeover looks again before it finishes
    t = ops.ProtectShare().observe("wait_snapshot", step,
                                   {"id": older.id, "status": "available"})
    assert t.phase == "sweep"
    late = user_snapshot(manila, share.id, "x",
                         metadata={ops.CHECKPOINT_TAG: "cp-1"})
    t = ops.ProtectShare().act("sweep", step)
    assert t.outcome.success
    assert manila.snapshots.items[late.id].status == "deleting"
    assert manila.snapshots.items[older.id].status == "available"


def test_a_create_whose_answer_was_lost_sweeps_a_late_landing(manila):
    """The first create timed out; its request lands only after the
    retry's snapshot exists: the checkpoint keeps one, deletes the
    other."""
    share = manila.add_share(project_id="p1")
    step = fakes.FakeStep(manila, protect_state(share.id), maybe_done=True)
    ops.ProtectShare().act("start", step)
    mine = step.state["snapshot_id"]
    assert step.state["contested"] is True
    late = user_snapshot(manila, share.id, "x",
                         metadata={ops.CHECKPOINT_TAG: "cp-1"})
    t = ops.ProtectShare().observe("wait_snapshot", step,
                                   {"id": mine, "status": "available"})
    assert t.phase == "sweep"
    t = ops.ProtectShare().act("sweep", step)
    assert t.outcome.success
    assert manila.snapshots.items[late.id].status == "deleting"
    assert step.state["snapshot_id"] == mine


def test_a_first_create_is_not_contested(manila):
    share = manila.add_share(project_id="p1")
    step = fakes.FakeStep(manila, protect_state(share.id))
    ops.ProtectShare().act("start", step)
    assert "contested" not in step.state
    t = ops.ProtectShare().observe(
        "wait_snapshot", step,
        {"id": step.state["snapshot_id"], "status": "available"})
    assert t.outcome.success


def test_a_sweep_that_cannot_look_still_keeps_the_checkpoint(manila):
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id), taken_over=True)
    ops.ProtectShare().act("start", step)
    from manilaclient.common.apiclient import exceptions as m_exc
    manila.snapshots.fail_next = [m_exc.BadRequest(400, "deleting")]
    t = ops.ProtectShare().act("sweep", step)
    assert t.outcome.success


def test_every_change_in_manila_is_fenced(manila):
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    ops.ProtectShare().act("start", step)
    assert step.fences == 1
    lost = fakes.FakeStep(manila, protect_state(share.id), record_id="cp-2")
    lost.lost = True
    with pytest.raises(exception.LeaseLost):
        ops.ProtectShare().act("start", lost)
    assert len(manila.snapshots.items) == 1          # nothing made
    delete = fakes.FakeStep(manila, {"saved_info": {
        "share_id": share.id, "snapshot_id": step.state["snapshot_id"]}})
    delete.lost = True
    with pytest.raises(exception.LeaseLost):
        ops.DeleteSnapshot().act("start", delete)
    assert manila.snapshots.items[step.state["snapshot_id"]].status != \
        "deleting"


def test_an_unknown_phase_is_not_the_create_path(manila):
    share = manila.add_share()
    step = fakes.FakeStep(manila, protect_state(share.id))
    for op in (ops.ProtectShare(), ops.RestoreShare(),
               ops.DeleteSnapshot()):
        with pytest.raises(exception.InvalidState) as err:
            op.act("wait_snapshotX", step)
        assert "unknown phase" in err.value.message
        with pytest.raises(exception.InvalidState):
            op.observe("bogus", step, None)
    assert manila.snapshots.items == {}


def test_delete_removes_every_snapshot_tagged_with_the_checkpoint(manila):
    share = manila.add_share()
    mine = user_snapshot(manila, share.id, ops.tag_name("cp-1"))
    orphan = user_snapshot(manila, share.id, "y",
                           metadata={ops.CHECKPOINT_TAG: "cp-1"})
    other = user_snapshot(manila, share.id, "z",
                          metadata={ops.CHECKPOINT_TAG: "cp-9"})
    step = fakes.FakeStep(manila, {"saved_info": {
        "share_id": share.id, "snapshot_id": mine.id}})
    t = ops.DeleteSnapshot().act("start", step)
    assert t.phase == "wait_gone" and t.wait.id == mine.id
    assert manila.snapshots.items[orphan.id].status == "deleting"
    assert other.status == "available"
