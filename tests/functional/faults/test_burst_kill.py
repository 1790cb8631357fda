"""kill -9 in the middle of a burst of protect casts (invariant 1): after
the restart every cast is recorded exactly once, with and without
caller-chosen checkpoint ids, each with one snapshot and its events."""

from __future__ import annotations

import threading

import pytest

from share_worker.testing.audit import audit_protects
from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    store_count,
    user_ctx,
    wait_for,
    wait_terminal,
)

CASTS = 600


@pytest.mark.parametrize("caller_ids", [True, False],
                         ids=["caller-ids", "derived-ids"])
def test_kill_9_mid_burst_loses_and_duplicates_nothing(setting, sim,
                                                       caller_ids):
    shares = sim.sim.create_shares(PROJECT, CASTS)
    events = setting.events()
    worker = setting.worker().start()
    client = setting.client()
    setting.wait_ready(client, worker)

    def burst():
        for n, share_id in enumerate(shares):
            client.cast_protect(
                user_ctx(), {"type": SHARE, "id": share_id},
                checkpoint_id="burst-%d" % n if caller_ids else None)

    sender = threading.Thread(target=burst)
    sender.start()
    recorded = wait_for(lambda: store_count(
        setting.db_url, "SELECT count(*) FROM checkpoints") >= CASTS // 10
        and store_count(setting.db_url, "SELECT count(*) FROM checkpoints"),
        timeout=60, what="a tenth of the burst recorded")
    worker.kill()
    at_kill = store_count(setting.db_url, "SELECT count(*) FROM checkpoints")
    sender.join(timeout=120)
    assert at_kill < CASTS, "the kill came after the burst: nothing tested"
    worker.start()
    wait_terminal(setting.db_url, CASTS, worker=worker)
    wait_for(lambda: len(events.of(".protect.end")) >= CASTS, timeout=60,
             what=lambda: "every protect.end (%d seen)"
             % len(events.of(".protect.end")))
    counts = audit_protects(setting.db_url, shares, sim.sim.snapshots(),
                            events.events())
    print("kill -9 after %d of %d recorded (%d when seen): %s"
          % (at_kill, CASTS, recorded, counts.row()))
    assert counts.bad() == {}, counts.row()
    assert counts.recorded == counts.terminal == CASTS
