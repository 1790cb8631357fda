"""Invariants 2 and 10 against the simulator over HTTP, at microversion
2.73 (snapshot metadata tags) and 2.72 (no metadata: the name derived
from the checkpoint id is the tag): a lost answer to a snapshot create
makes no second snapshot; a user's snapshot named like a checkpoint's is
never adopted and never deleted; two checkpoints of one snapshot_name
get two snapshots."""

from __future__ import annotations

import collections

import pytest

from share_worker.testing.audit import audit_protects
from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    user_ctx,
    wait_for,
    wait_terminal,
)

VERSIONS = ["2.73", "2.72"]


def started(setting):
    worker = setting.worker().start()
    client = setting.client()
    setting.wait_ready(client, worker)
    return worker, client


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("named", [False, True], ids=["default", "named"])
def test_a_lost_answer_to_a_create_makes_no_second_snapshot(setting, sim,
                                                           version, named):
    sim.sim.set_max_version(version)
    shares = sim.sim.create_shares(PROJECT, 8)
    # Each create takes effect, then its answer is lost.
    sim.sim.inject_http_fault("POST", r"/snapshots$", status=None,
                              drop_after_processing=True, drop=True,
                              count=len(shares))
    events = setting.events()
    worker, client = started(setting)
    for share_id in shares:
        client.cast_protect(user_ctx(), {"type": SHARE, "id": share_id},
                            options={"snapshot_name": "nightly"}
                            if named else None)
    wait_terminal(setting.db_url, len(shares), worker=worker)
    wait_for(lambda: len(events.of(".protect.end")) == len(shares),
             timeout=30, what="every protect.end")
    snaps = sim.sim.snapshots(PROJECT)
    per_share = collections.Counter(s["share_id"] for s in snaps)
    assert set(per_share.values()) == {1}, per_share
    if named:
        assert {s["name"] for s in snaps} == {"nightly"}
    counts = audit_protects(setting.db_url, shares, snaps, events.events())
    print("lost create answers at %s: %s" % (version, counts.row()))
    assert counts.bad() == {}, counts.row()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_users_snapshot_of_the_same_name_is_never_touched(setting, sim,
                                                            version):
    sim.sim.set_max_version(version)
    share_id = sim.sim.create_share(PROJECT)
    theirs = sim.sim.create_snapshot(share_id, name="nightly",
                                     status="available")
    # The first create is refused with a 500 (it took no effect): the
    # retry looks for what the first try made, and must not take the
    # user's snapshot for it.
    sim.sim.inject_http_fault("POST", r"/snapshots$", status=500, count=1)
    events = setting.events()
    worker, client = started(setting)
    cp = client.protect(user_ctx(), {"type": SHARE, "id": share_id},
                        options={"snapshot_name": "nightly"})
    done = wait_for(lambda: [p for e, p in events.events()
                             if p["id"] == cp["id"]
                             and e.endswith(".protect.end")],
                    timeout=30, what="protect.end")[0]
    mine = done["saved_info"]["snapshot_id"]
    assert mine != theirs
    assert sim.sim.snapshot(mine)["name"] == "nightly"
    client.delete(user_ctx(), cp["id"])
    wait_for(lambda: events.of(".delete.end") >= {cp["id"]}, timeout=30,
             what="delete.end")
    wait_for(lambda: sim.sim.snapshot(mine) is None, timeout=20,
             what="the checkpoint's snapshot gone")
    assert sim.sim.snapshot(theirs)["status"] == "available"


def test_two_checkpoints_of_one_name_below_2_73_keep_their_own(setting,
                                                               sim):
    sim.sim.set_max_version("2.72")
    share_id = sim.sim.create_share(PROJECT)
    events = setting.events()
    worker, client = started(setting)
    made = [client.protect(user_ctx(), {"type": SHARE, "id": share_id},
                           options={"snapshot_name": "daily"})
            for _ in range(2)]
    ends = wait_for(lambda: {p["id"]: p for e, p in events.events()
                             if e.endswith(".protect.end")}
                    if len(events.of(".protect.end")) == 2 else None,
                    timeout=30, what="both protect.end")
    first, second = (ends[cp["id"]]["saved_info"]["snapshot_id"]
                     for cp in made)
    assert first != second
    client.delete(user_ctx(), made[0]["id"])
    wait_for(lambda: events.of(".delete.end") >= {made[0]["id"]},
             timeout=30, what="delete.end")
    wait_for(lambda: sim.sim.snapshot(first) is None, timeout=20,
             what="the first checkpoint's snapshot gone")
    assert sim.sim.snapshot(second)["status"] == "available"
    assert client.show_checkpoint(user_ctx(), made[1]["id"])["status"] == \
        "available"
