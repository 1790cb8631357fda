"""Every contract method takes exactly its documented arguments."""

import oslo_messaging
import pytest

from tests.conftest import wait_for
from tests.unit.endpoints.conftest import (
    CONTRACT,
    PROJECT,
    PROJECT_TYPE,
    SHARE,
    available_checkpoint,
    ctx_dict,
)


def good_arguments(worker, manila, method):
    """(required kwargs, optional kwargs) of *method*, all valid."""
    share = manila.add_share(project_id=PROJECT)
    if method in ("protect", "list_checkpoints", "list_protectable_types",
                  "show_protectable_type", "list_protectable_instances",
                  "show_protectable_instance", "list_protectable_dependents",
                  "show_plugin_schemas"):
        cp = {"id": "cp-none"}
    else:
        cp = available_checkpoint(worker, manila)
    restore = {"id": "r-none"}
    if method in ("show_restore", "list_restores"):
        restore = worker.caller.call(ctx_dict(), "restore",
                                     checkpoint_id=cp["id"])
        # its share is made right after: let that happen before a test
        # counts the changes in Manila
        wait_for(lambda: [c for c in manila.shares.calls
                          if c[0] == "create" and restore["id"] in str(c)],
                 what="the restore's share create")
    return {
        "protect": ({"resource": {"type": SHARE, "id": share.id}},
                    {"options": {"force": True}, "checkpoint_id": "cp-new"}),
        "restore": ({"checkpoint_id": cp["id"]},
                    {"options": {"restore_name": "back"}}),
        "delete": ({"checkpoint_id": cp["id"]}, {}),
        "show_checkpoint": ({"checkpoint_id": cp["id"]}, {}),
        "list_checkpoints": ({}, {"filters": {"status": "available"},
                                  "limit": 5, "marker": None}),
        "show_restore": ({"restore_id": restore["id"]}, {}),
        "list_restores": ({}, {"filters": {"checkpoint_id": cp["id"]},
                               "limit": 1000, "marker": None}),
        "list_protectable_types": ({}, {}),
        "show_protectable_type": ({"resource_type": SHARE}, {}),
        "list_protectable_instances": ({"resource_type": SHARE},
                                       {"parameters": {"name": "s"}}),
        "show_protectable_instance": ({"resource_type": SHARE,
                                       "resource_id": share.id}, {}),
        "list_protectable_dependents": ({"resource_type": PROJECT_TYPE,
                                         "resource_id": PROJECT}, {}),
        "show_plugin_schemas": ({"resource_type": SHARE}, {}),
    }[method]


def changes(manila):
    """The calls that changed something in Manila."""
    return [c for c in manila.snapshots.calls + manila.shares.calls
            if c[0] not in ("get", "list")]


@pytest.mark.parametrize("method", sorted(CONTRACT))
def test_required_arguments_alone_are_enough(worker, manila, method):
    required, _ = good_arguments(worker, manila, method)
    result = worker.caller.call(ctx_dict(), method, **required)
    assert isinstance(result, (dict, list))


@pytest.mark.parametrize("method", sorted(CONTRACT))
def test_every_optional_argument_is_accepted(worker, manila, method):
    required, optional = good_arguments(worker, manila, method)
    assert (tuple(required), set(optional)) == (
        CONTRACT[method][0], set(CONTRACT[method][1]))
    result = worker.caller.call(ctx_dict(), method, **required, **optional)
    assert isinstance(result, (dict, list))
    nulls = {k: None for k in optional if k != "checkpoint_id"}
    if method != "protect":
        worker.caller.call(ctx_dict(), method, **required, **nulls)


@pytest.mark.parametrize("method", sorted(CONTRACT))
def test_unknown_arguments_are_invalid_input_naming_them(worker, manila,
                                                         method):
    required, optional = good_arguments(worker, manila, method)
    before = worker.caller.call(ctx_dict(), "list_checkpoints")
    calls = changes(manila)
    err = worker.caller.refused(ctx_dict(), method, **required,
                                bogus=1, checkpoint_idd="x",
                                **{"x" * 5000: 1})
    assert err.exc_type == "InvalidInput"
    assert "bogus" in err.value and "checkpoint_idd" in err.value
    assert method in err.value
    for name in tuple(required) + tuple(optional):
        assert name in err.value  # says what it does take
    assert len(err.value) < 2000, "the message echoes a 5000-char name"
    assert worker.caller.call(ctx_dict(), "list_checkpoints") == before
    assert changes(manila) == calls


@pytest.mark.parametrize("name", ["self", "ctxt", "request", "ctx",
                                  "call", "kwargs"])
@pytest.mark.parametrize("method", ["protect", "show_checkpoint",
                                    "list_protectable_types"])
def test_names_of_the_dispatchers_own_are_unknown_arguments(worker, manila,
                                                            method, name):
    """An argument named like one of the method's own parameters is an
    unknown argument like any other: InvalidInput to a call, its .error
    event to a cast, never a TypeError with our traceback."""
    required, _ = good_arguments(worker, manila, method)
    # RPCClient.call(self, ctxt, method, **kwargs) itself can't send
    # these names: send the message as any peer may.
    target = oslo_messaging.Target(exchange="share_worker",
                                   topic=worker.caller.client.target.topic,
                                   version="1.0")
    message = {"method": method, "args": dict(required, **{name: 1}),
               "version": "1.0"}
    with pytest.raises(oslo_messaging.RemoteError) as raised:
        worker.transport._send(target, ctx_dict(), dict(message),
                               wait_for_reply=True, timeout=10)
    err = raised.value
    assert err.exc_type == "InvalidInput" and name in err.value
    assert "Traceback" not in str(err)
    if method == "protect":
        worker.transport._send(target, ctx_dict(), dict(message))
        [event] = wait_for(lambda: worker.errors(
            "share_worker.checkpoint.protect.error"), what="the .error")
        assert event["error"]["code"] == "InvalidInput"
        assert name in event["error"]["message"]


@pytest.mark.parametrize("method", sorted(m for m, (req, _) in
                                          CONTRACT.items() if req))
def test_missing_required_arguments_are_invalid_input(worker, manila,
                                                      method):
    required, optional = good_arguments(worker, manila, method)
    for name in required:
        args = dict(required, **optional)
        del args[name]
        err = worker.caller.refused(ctx_dict(), method, **args)
        assert err.exc_type == "InvalidInput"
        assert name in err.value and method in err.value


def test_a_refused_protect_records_nothing(worker, manila):
    share = manila.add_share(project_id=PROJECT)
    bad = [
        {"resource": {"type": SHARE, "id": share.id}, "options": "fast"},
        {"resource": {"type": SHARE, "id": share.id},
         "options": {"force": "yes"}},
        {"resource": {"type": SHARE, "id": share.id}, "checkpoint_id": ""},
        {"resource": {"type": "OS::Nova::Server", "id": share.id}},
        {"resource": [SHARE, share.id]},
    ]
    for kwargs in bad:
        worker.caller.refused(ctx_dict(), "protect", **kwargs)
    assert worker.caller.call(ctx_dict(), "list_checkpoints") == []
    assert manila.snapshots.calls == []


def test_a_good_protect_after_refusals_completes(worker, manila):
    for _ in range(20):
        worker.caller.refused(ctx_dict(), "protect", resource=None)
    cp = available_checkpoint(worker, manila, "cp-after")
    assert cp["status"] == "available"
    wait_for(lambda: worker.caller.call(
        ctx_dict(), "show_checkpoint", checkpoint_id="cp-after")["status"]
        == "available")
