"""Only the contract's methods are callable through the RPC server."""

import oslo_messaging
import pytest

from tests.conftest import wait_for
from tests.unit.endpoints.conftest import (
    CONTRACT,
    SHARE,
    Caller,
    available_checkpoint,
    ctx_dict,
)

NOT_METHODS = [
    "__init__", "__class__", "__getattribute__", "__dict__", "__call__",
    "engine", "auth_strategy", "target", "_request_id", "report_rejected",
    "start", "stop", "store", "outbox", "protect_", "Protect", "",
    "engine.protect", "protect.__wrapped__", "oslo_rpc_server_ping",
    "create_policy", "show_policy", "list_policies", "update_policy",
    "delete_policy",
]


def test_callable_methods_are_exactly_the_contract(worker):
    exposed = {name for ep in worker.endpoints for name in dir(ep)
               if getattr(getattr(ep, name), "exposed", False)}
    assert exposed == set(CONTRACT)


@pytest.mark.parametrize("method", NOT_METHODS)
def test_anything_else_is_no_such_method_and_nothing_runs(worker, manila,
                                                          method):
    share = manila.add_share()
    with pytest.raises(oslo_messaging.RemoteError) as err:
        worker.caller.call(ctx_dict(), method,
                           resource={"type": SHARE, "id": share.id})
    assert err.value.exc_type == "NoSuchMethod"
    assert method in err.value.value
    worker.caller.cast(ctx_dict(), method,
                       resource={"type": SHARE, "id": share.id})
    # the server still answers, and neither message changed anything
    assert worker.caller.call(ctx_dict(), "list_checkpoints") == []
    wait_for(lambda: worker.server.consumer.acked == 3,
             what="the call, the cast and the call handled")
    assert manila.snapshots.calls == [] and manila.shares.calls == []
    worker.drain()
    assert worker.sink.events == []


def test_a_private_helper_added_to_an_endpoint_is_not_callable(worker):
    endpoint = worker.endpoints[0]
    endpoint._secret = lambda ctxt, **kw: "ran"
    endpoint.helper = lambda ctxt, **kw: "ran"
    for name in ("_secret", "helper"):
        with pytest.raises(oslo_messaging.RemoteError) as err:
            worker.caller.call(ctx_dict(), name)
        assert err.value.exc_type == "NoSuchMethod"


def test_engine_methods_are_not_reachable_by_name(worker, manila):
    cp = available_checkpoint(worker, manila)
    for name in ("_reserve", "_new_op", "_hand_over", "_applied",
                 "_existing", "_same_resource"):
        with pytest.raises(oslo_messaging.RemoteError) as err:
            worker.caller.call(ctx_dict(), name, checkpoint_id=cp["id"])
        assert err.value.exc_type == "NoSuchMethod"


@pytest.mark.parametrize("version", ["2.0", "1.9", "0.9"])
def test_an_unsupported_version_is_refused_and_the_server_serves_on(
        worker, version):
    # 1.9 > 1.0 is a minor version this worker doesn't know yet
    other = Caller(worker.transport, worker.caller.client.target.topic,
                   worker.endpoints,
                   version=version)
    with pytest.raises(oslo_messaging.RemoteError) as err:
        other.call(ctx_dict(), "list_checkpoints")
    assert err.value.exc_type == "UnsupportedVersion"
    other.cast(ctx_dict(), "list_checkpoints")
    assert worker.caller.call(ctx_dict(), "list_protectable_types") == [
        "OS::Keystone::Project", SHARE]
