"""A stalled lease owner (invariants 2, 3 and 9): two workers on one
PostgreSQL store; the owner's snapshot create is held by Manila, the
owner stalls (SIGSTOP) past its lease, the other worker takes the
operation over and makes its own snapshot, then the stalled create
lands after all. The new owner keeps one snapshot and deletes the
other; the old one, resumed, makes no further change: one snapshot per
checkpoint, no orphan, the checkpoint terminal."""

from __future__ import annotations

from share_worker.testing.audit import audit_protects
from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    store_count,
    user_ctx,
    wait_for,
    wait_terminal,
)


def live_snapshots(sim, share_id):
    return [s for s in sim.sim.snapshots(share_id=share_id)
            if s["status"] not in ("deleting", "deleted")]


def test_a_stalled_owner_makes_no_second_snapshot(setting, sim):
    sim.sim.set_delays(snapshot_create=3600)     # statuses set by hand
    share_id = sim.sim.create_share(PROJECT)
    rule = sim.sim.inject_http_fault("POST", r"/snapshots$", status=None,
                                     hold=120, count=1)
    events = setting.events()
    first = setting.worker("w1").start()
    client = setting.client()
    setting.wait_ready(client, first)
    client.cast_protect(user_ctx(), {"type": SHARE, "id": share_id},
                        checkpoint_id="stalled-1")
    wait_for(lambda: sim.sim.fault_stats(rule)["held"] == 1, timeout=20,
             what="the owner's create held by Manila")
    first.pause()
    second = setting.worker("w2").start()
    # Past the owner's hold on the lease the other worker takes over
    # and, finding no snapshot yet, makes its own.
    wait_for(lambda: len(live_snapshots(sim, share_id)) == 1, timeout=30,
             what=lambda: "the new owner's snapshot\n" + second.log_tail())
    [taken] = live_snapshots(sim, share_id)
    sim.sim.release_hold(rule)          # the stalled create lands now
    wait_for(lambda: len(live_snapshots(sim, share_id)) == 2, timeout=20,
             what="the stalled create landed")
    sim.sim.set_status("snapshot", taken["id"], "available")
    wait_terminal(setting.db_url, 1, worker=second)
    wait_for(lambda: len(live_snapshots(sim, share_id)) == 1, timeout=30,
             what=lambda: "the second tagged snapshot deleted\n"
             + second.log_tail())
    first.resume()
    wait_for(lambda: "letting go" in first.log_text(), timeout=30,
             what=lambda: "the old owner letting go\n" + first.log_tail())
    assert [s["id"] for s in live_snapshots(sim, share_id)] == [taken["id"]]
    assert store_count(setting.db_url, "SELECT count(*) FROM checkpoints "
                       "WHERE status = 'available'") == 1
    wait_for(lambda: events.of(".protect.end") == {"stalled-1"},
             timeout=30, what="protect.end")
    counts = audit_protects(setting.db_url, [share_id],
                            sim.sim.snapshots(), events.events())
    print("stalled owner: %s" % counts.row())
    assert counts.bad() == {}, counts.row()
