"""The service over the real RabbitMQ: rpcapi and a bare RPCClient
written from DESIGN section 3, with an independent notification
listener checking every event against the published schemas."""

import oslo_messaging
import pytest

from tests.conftest import wait_for
from tests.functional.conftest import PROJECT, user_ctx

SHARE = "OS::Manila::Share"


def test_protect_restore_delete_with_call(start_service, rpc, events, sim):
    start_service()
    share_id = sim.sim.create_share(PROJECT, size=2)
    cp = rpc.protect(user_ctx(), {"type": SHARE, "id": share_id})
    assert cp["status"] == "protecting"
    end = events.wait(cp["id"], "share_worker.checkpoint.protect.end")
    assert end["saved_info"]["share_id"] == share_id
    shown = rpc.show_checkpoint(user_ctx(), cp["id"])
    assert shown["status"] == "available"
    assert [c["id"] for c in rpc.list_checkpoints(user_ctx())] == [cp["id"]]

    restore = rpc.restore(user_ctx(), cp["id"], {"restore_name": "back"})
    assert restore["status"] == "in_progress"
    done = events.wait(restore["id"], "share_worker.restore.end")
    assert sim.sim.share(done["target"]["share_id"])["name"] == "back"
    assert rpc.show_restore(user_ctx(), restore["id"])["status"] == \
        "success"

    revert = rpc.restore(user_ctx(), cp["id"], {"share_id": share_id})
    assert revert["target"]["mode"] == "revert"
    events.wait(revert["id"], "share_worker.restore.end")
    assert len(rpc.list_restores(user_ctx())) == 2

    assert rpc.delete(user_ctx(), cp["id"])["status"] == "deleting"
    events.wait(cp["id"], "share_worker.checkpoint.delete.end")
    assert events.for_record(cp["id"]) == [
        "share_worker.checkpoint.protect.start",
        "share_worker.checkpoint.protect.end",
        "share_worker.checkpoint.delete.start",
        "share_worker.checkpoint.delete.end"]
    publishers = {p for p, _, _, _ in events.events}
    assert publishers == {"share_worker.test-host"}


def test_protect_restore_delete_with_cast(start_service, rpc, events, sim):
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    rpc.cast_protect(user_ctx(), {"type": SHARE, "id": share_id},
                     checkpoint_id="cast-1")
    events.wait("cast-1", "share_worker.checkpoint.protect.end")
    rpc.cast_restore(user_ctx(), "cast-1")
    restored = wait_for(lambda: [
        p for _, e, _, p in events.events
        if e == "share_worker.restore.end" and p["checkpoint_id"] == "cast-1"],
        timeout=20, what="the cast restore to end")
    assert restored[0]["status"] == "success"
    rpc.cast_delete(user_ctx(), "cast-1")
    events.wait("cast-1", "share_worker.checkpoint.delete.end")
    assert sim.sim.snapshots(share_id=share_id) == []


def test_bare_rpc_client_from_the_contract(start_service, worker_conf,
                                           rabbit_vhost, events, sim):
    """A caller that knows only DESIGN section 3: its own transport,
    Target(exchange='share_worker', topic=..., version='1.0') and
    RequestContext.to_dict() contexts."""
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    transport = oslo_messaging.get_rpc_transport(
        worker_conf, url=rabbit_vhost.url)
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(
        exchange="share_worker", topic=worker_conf.share_worker.topic,
        version="1.0"), timeout=30)
    ctxt = user_ctx().to_dict()
    try:
        cp = client.call(ctxt, "protect",
                         resource={"type": SHARE, "id": share_id})
        events.wait(cp["id"], "share_worker.checkpoint.protect.end")
        assert client.call(ctxt, "list_protectable_types") == [
            "OS::Keystone::Project", SHARE]
        schemas = client.call(ctxt, "show_plugin_schemas",
                              resource_type=SHARE)
        assert schemas["options_schema"]["title"] == \
            "Share Protection Options"
        with pytest.raises(oslo_messaging.RemoteError) as err:
            client.call(ctxt, "show_checkpoint", checkpoint_id="nope")
        assert err.value.exc_type == "CheckpointNotFound"
    finally:
        transport.cleanup()
