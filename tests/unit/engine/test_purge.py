"""Deleted checkpoints (with their restores and operations) and finished
operations are purged once older than deleted_retention, one log line per
batch; live records stay."""

import datetime
import logging

from oslo_context import context as o_context

from share_worker.db.store import utcnow
from share_worker.engine.purger import Purger
from tests.conftest import wait_for

SHARE = "OS::Manila::Share"


def ctx():
    return o_context.RequestContext(user_id="u1", project_id="p1",
                                    auth_token="tok", overwrite=False)


def settle(manila):
    for item in list(manila.snapshots.items.values()):
        if item.status == "creating":
            item.status = "available"
        elif item.status == "deleting":
            manila.snapshots.items.pop(item.id)


def checkpoint(engine, manila, cid):
    share = manila.add_share()
    engine.protect(ctx(), {"type": SHARE, "id": share.id}, checkpoint_id=cid)
    wait_for(lambda: settle(manila) or engine.show_checkpoint(
        ctx(), cid)["status"] == "available", what=cid + " available")


def test_old_deleted_records_are_purged(make_engine, manila, caplog):
    engine = make_engine()
    checkpoint(engine, manila, "cp-gone")
    checkpoint(engine, manila, "cp-kept")
    engine.delete(ctx(), "cp-gone")
    wait_for(lambda: settle(manila) or engine.show_checkpoint(
        ctx(), "cp-gone")["status"] == "deleted", what="cp-gone deleted")
    wait_for(lambda: engine.ops.count_unfinished() == 0,
             what="every operation finished")
    now = utcnow()
    # within the retention: nothing goes
    assert Purger(engine.store, lambda: 3600, clock=lambda: now
                  ).run_once() == 0
    later = now + datetime.timedelta(days=31)
    caplog.set_level(logging.INFO, "share_worker.engine.purger")
    purged = Purger(engine.store, lambda: 30 * 86400,
                    clock=lambda: later).run_once()
    # cp-gone and its protect and delete; cp-kept's finished protect
    assert purged == 1 + 2 + 1
    assert [c["id"] for c in engine.list_checkpoints(ctx())] == ["cp-kept"]
    assert "Purged 1 deleted checkpoints" in caplog.text
    # 0: never
    assert Purger(engine.store, lambda: 0, clock=lambda: later
                  ).run_once() == 0
