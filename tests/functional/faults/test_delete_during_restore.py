"""A checkpoint in use stays (invariant 11): while a share is being
made from its snapshot, a delete call is refused with InvalidState and
a delete cast publishes checkpoint.delete.error with that code; once
the restore ends the checkpoint can be deleted."""

from __future__ import annotations

import oslo_messaging
import pytest

from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    user_ctx,
    wait_for,
)


def test_delete_during_a_restore_is_refused_until_it_ends(setting, sim):
    share_id = sim.sim.create_share(PROJECT)
    events = setting.events()
    worker = setting.worker().start()
    client = setting.client()
    setting.wait_ready(client, worker)
    cp = client.protect(user_ctx(), {"type": SHARE, "id": share_id})
    wait_for(lambda: cp["id"] in events.of(".protect.end"), timeout=30,
             what="protect.end")
    sim.sim.set_delays(share_create=3600)
    restore = client.restore(user_ctx(), cp["id"], {"restore_name": "r"})
    new_share = wait_for(lambda: [s for s in sim.sim.shares(PROJECT)
                                  if s["id"] != share_id], timeout=20,
                         what="the restored share being created")[0]
    with pytest.raises(oslo_messaging.RemoteError) as err:
        client.delete(user_ctx(), cp["id"])
    assert err.value.exc_type == "InvalidState"
    assert restore["id"] in err.value.value
    client.cast_delete(user_ctx(), cp["id"])
    refused = wait_for(lambda: [p for e, p in events.events()
                                if e.endswith(".delete.error")
                                and p["id"] == cp["id"]], timeout=20,
                       what="checkpoint.delete.error")[0]
    assert refused["error"]["code"] == "InvalidState"
    assert refused["status"] == "available"
    assert client.show_checkpoint(user_ctx(), cp["id"])["status"] == \
        "available"
    assert sim.sim.snapshot(refused["saved_info"]["snapshot_id"])[
        "status"] == "available"
    sim.sim.set_status("share", new_share["id"], "available")
    wait_for(lambda: restore["id"] in events.of("restore.end"), timeout=30,
             what="restore.end")
    assert client.delete(user_ctx(), cp["id"])["status"] == "deleting"
    wait_for(lambda: cp["id"] in events.of(".delete.end"), timeout=30,
             what="delete.end")
