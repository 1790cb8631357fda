"""A refused protect / restore / delete cast is reported as exactly one
``.error`` event (nobody waits for its reply); a refused call is not."""

import json

import oslo_messaging
import pytest

from share_worker import exception
from share_worker.endpoints import base
from tests.conftest import wait_for
from tests.unit.endpoints.conftest import (
    OPERATION_EVENTS,
    PROJECT,
    SHARE,
    available_checkpoint,
    ctx_dict,
    rpc_request,
)

LONG = "x" * 10000


def bad_casts(share_id, cp_id):
    """(method, context, kwargs, exc_type, payload checks); checks None:
    the caller can't be authenticated, so no event at all."""
    ok = {"type": SHARE, "id": share_id}
    return [
        ("protect", ctx_dict(), {"resource": None}, "InvalidInput",
         {"id": None, "resource": None, "project_id": PROJECT}),
        ("protect", ctx_dict(), {"resource": {"type": "OS::Nova::Server",
                                              "id": "vm-1"}},
         "UnsupportedResourceType",
         {"resource": {"type": "OS::Nova::Server", "id": "vm-1",
                       "name": None, "extra_info": {}}}),
        # a free id the caller chose is named, an existing checkpoint not
        ("protect", ctx_dict(), {"resource": ok, "checkpoint_id": "cp-b1",
                                 "options": {"force": "yes"}},
         "InvalidInput", {"id": "cp-b1", "options": {"force": "yes"}}),
        ("protect", ctx_dict(), {"resource": ok, "checkpoint_id": cp_id,
                                 "options": {"force": "yes"}},
         "InvalidInput", {"id": None}),
        ("protect", ctx_dict(), {"resource": ok, "checkpoint_id": LONG},
         "InvalidInput", {"id": None}),
        ("protect", ctx_dict(), {"resource": ok,
                                 "checkpoint_id": "cp-1\n"},
         "InvalidInput", {"id": None}),
        ("protect", ctx_dict(), {"resource": ok,
                                 "options": {"description": LONG * 100}},
         "InvalidInput", {"options": {}}),
        ("protect", ctx_dict(), {"resource": ok, "bogus": 1},
         "InvalidInput", {"resource": dict(ok, name=None, extra_info={})}),
        ("protect", None, {"resource": ok}, "Forbidden", None),
        ("protect", {"user": "u1"}, {"resource": ok}, "Forbidden", None),
        ("restore", ctx_dict(), {}, "InvalidInput",
         {"checkpoint_id": None}),
        ("restore", ctx_dict(), {"checkpoint_id": "nope"},
         "CheckpointNotFound", {"checkpoint_id": "nope", "id": None}),
        ("restore", ctx_dict(), {"checkpoint_id": cp_id,
                                 "options": {"share_id": 5}},
         "InvalidInput", {"checkpoint_id": cp_id}),
        # another project's checkpoint is never named, even in the message
        ("restore", ctx_dict("p2"), {"checkpoint_id": cp_id},
         "CheckpointNotFound", {"project_id": "p2", "checkpoint_id": None}),
        ("delete", ctx_dict("p2"), {"checkpoint_id": cp_id},
         "CheckpointNotFound", {"project_id": "p2", "id": None,
                                "resource": None}),
        ("delete", ctx_dict(), {"checkpoint_id": ["cp"]}, "InvalidInput",
         {"id": None, "status": "error"}),
        ("delete", ctx_dict(), {"checkpoint_id": "nope"},
         "CheckpointNotFound", {"id": "nope"}),
        ("protect", ctx_dict("p2"), {"resource": ok,
                                     "checkpoint_id": cp_id,
                                     "options": {"force": "yes"}},
         "InvalidInput", {"id": None, "project_id": "p2"}),
        ("delete", "ctx", {"checkpoint_id": cp_id}, "Forbidden", None),
        ("delete", {"project_id": 5}, {"checkpoint_id": cp_id},
         "Forbidden", None),
        ("delete", ctx_dict(is_admin="yes"), {"checkpoint_id": cp_id},
         "Forbidden", None),
        # the caller's own checkpoint: the event shows it as it is
        ("delete", ctx_dict(), {"checkpoint_id": cp_id, "force": True},
         "InvalidInput", {"status": "available", "project_id": PROJECT,
                          "id": cp_id}),
    ]


def refuse_as_cast(worker, method, ctxt, kwargs):
    """Dispatch one cast straight to the endpoint, as the RPC dispatcher
    does, and return the contract error it was refused with."""
    endpoint = next(ep for ep in worker.endpoints if hasattr(ep, method))
    with pytest.raises(exception.ShareWorkerError) as err:
        getattr(endpoint, method)(rpc_request(ctxt, cast=True), **kwargs)
    return err.value


def check_events(worker, cases, cp_id=None):
    """Exactly one schema-valid ``.error`` event per refused cast of an
    authenticated caller, in order, each saying why; none names *cp_id*
    unless it is inside *cp_id*'s own project."""
    worker.drain()  # every handler ended and every event published
    events = [(e, p) for e, _, p in worker.sink.events
              if e.endswith(".error")]
    cases = [case for case in cases if case[4] is not None]
    assert len(events) == len(cases), [e for e, _ in events]
    for _, payload in events:
        if cp_id is not None and payload["project_id"] != PROJECT:
            assert cp_id not in json.dumps(payload), payload
    for (event_type, payload), (method, _, _, exc_type, checks) in zip(
            events, cases, strict=True):
        assert event_type == OPERATION_EVENTS[method]
        assert payload["error"]["code"] == exc_type
        assert payload["error"]["message"]
        assert len(payload["error"]["message"]) <= base.MAX_MESSAGE
        for key, value in checks.items():
            assert payload[key] == value, (method, key, payload)


def test_each_refused_cast_is_one_error_event(worker, manila,
                                              quiet_server_log):
    cp = available_checkpoint(worker, manila)
    share = manila.add_share(project_id=PROJECT)
    worker.sink.events.clear()
    cases = bad_casts(share.id, cp["id"])
    for method, ctxt, kwargs, exc_type, _ in cases:
        error = refuse_as_cast(worker, method, ctxt, kwargs)
        assert error.code == exc_type, (method, kwargs, error)
    check_events(worker, cases, cp["id"])


def test_an_internal_error_in_a_cast_is_an_error_event(worker, manila,
                                                        monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("saved_info")

    monkeypatch.setattr(worker.engine, "delete", broken)
    cp = available_checkpoint(worker, manila)
    worker.sink.events.clear()
    error = refuse_as_cast(worker, "delete", ctx_dict(),
                           {"checkpoint_id": cp["id"]})
    assert error.code == "InvalidState"
    assert "internal error" in error.message
    check_events(worker, [("delete", None, None, "InvalidState",
                           {"id": cp["id"], "status": "available"})])


def test_a_refused_read_only_cast_publishes_nothing(worker):
    for method, kwargs in (("show_checkpoint", {"checkpoint_id": "nope"}),
                           ("list_checkpoints", {"limit": -1}),
                           ("show_plugin_schemas", {"resource_type": 5})):
        refuse_as_cast(worker, method, ctx_dict(), kwargs)
    worker.drain()
    assert worker.sink.events == []


def test_a_report_that_fails_does_not_hide_the_error(worker, monkeypatch,
                                                     caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("store is gone")

    monkeypatch.setattr(worker.engine, "report_rejected", broken)
    error = refuse_as_cast(worker, "protect", ctx_dict(), {"resource": 1})
    assert error.code == "InvalidInput"
    assert "Could not report the refused protect cast" in caplog.text


def test_a_refused_call_is_answered_not_published(worker, manila):
    cp = available_checkpoint(worker, manila)
    share = manila.add_share(project_id=PROJECT)
    worker.sink.events.clear()
    for method, ctxt, kwargs, exc_type, _ in bad_casts(share.id, cp["id"]):
        err = worker.caller.refused(ctxt, method, **kwargs)
        assert err.exc_type == exc_type, (method, kwargs, err.value)
    worker.drain()
    assert worker.sink.events == []


def test_refused_casts_through_the_rpc_server(worker, manila,
                                              quiet_server_log):
    cp = available_checkpoint(worker, manila)
    share = manila.add_share(project_id=PROJECT)
    worker.sink.events.clear()
    cases = bad_casts(share.id, cp["id"])
    published = 0
    for count, (method, ctxt, kwargs, _, checks) in enumerate(cases, 1):
        worker.caller.cast(ctxt, method, **kwargs)
        if checks is None:
            # handled (acknowledged) with a log line only
            wait_for(lambda n=count: worker.handled() >= n,
                     what="cast %d to be handled" % count)
            continue
        published += 1
        # one at a time: the server's pool would reorder them
        wait_for(lambda n=published: len(worker.errors()) == n,
                 what="the error event of cast %d" % count)
    check_events(worker, cases, cp["id"])


def test_the_server_serves_on_after_many_refused_casts(worker, manila,
                                                       quiet_server_log):
    share = manila.add_share(project_id=PROJECT)
    for i in range(50):
        worker.caller.cast(None if i % 2 else ctx_dict(), "protect",
                           resource={"type": SHARE, "id": i})
    worker.caller.cast(ctx_dict(), "protect",
                       resource={"type": SHARE, "id": share.id},
                       checkpoint_id="cp-good")
    worker.sink.wait("cp-good", "share_worker.checkpoint.protect.start")
    with pytest.raises(oslo_messaging.RemoteError):
        worker.caller.call(ctx_dict(), "protect", resource=None)
    assert worker.caller.call(ctx_dict(), "show_checkpoint",
                              checkpoint_id="cp-good")["status"] == \
        "protecting"
