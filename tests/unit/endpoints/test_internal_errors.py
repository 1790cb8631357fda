"""A bug or an unexpected failure behind an endpoint reaches the caller as
one of the contract's errors, never as a builtin exception or a
traceback of ours, and it is logged with the request id."""

import datetime
import logging

import pytest
from manilaclient.common.apiclient import exceptions as m_exc

from share_worker import exception
from share_worker.amqp import rpc
from tests.conftest import wait_for
from tests.unit.endpoints.conftest import PROJECT, SHARE, ctx_dict

FAILURES = [
    AttributeError("'NoneType' object has no attribute 'project_id'"),
    KeyError("saved_info"),
    TypeError("unhashable type: 'dict'"),
    RuntimeError("database is locked"),
    ValueError("x" * 100000),
    exception.ManilaUnavailable(reason="connection refused"),
    exception.PluginLoadError(namespace="n", name="p", reason="r"),
]


@pytest.mark.parametrize("failure", FAILURES,
                         ids=lambda f: type(f).__name__)
def test_an_unexpected_failure_is_a_contract_error(worker, monkeypatch,
                                                   caplog, failure):
    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(worker.engine, "show_checkpoint", broken)
    caplog.set_level(logging.INFO)
    err = worker.caller.refused(ctx_dict(), "show_checkpoint",
                                checkpoint_id="cp-1")
    assert err.exc_type == "InvalidState"
    assert len(err.value) <= 1024
    assert "x" * 2000 not in str(err)
    logged = [r for r in caplog.records
              if r.name == "share_worker.endpoints.base"]
    assert logged, "the failure was not logged"
    assert "req-unit" in logged[-1].getMessage()
    if isinstance(failure, exception.ShareWorkerError):
        assert failure.message in err.value
    else:
        # a bug: the caller is told where to look; the log has the trace
        assert "internal error in show_checkpoint" in err.value
        assert "req-unit" in err.value
        assert logged[-1].levelno == logging.ERROR
        assert logged[-1].exc_info[0] is type(failure)
    # the server is fine
    assert worker.caller.call(ctx_dict(), "list_checkpoints") == []


def test_a_manila_failure_while_listing_is_a_contract_error(worker, manila):
    manila.shares.fail_next = [m_exc.ClientException(500, "boom"),
                               m_exc.Unauthorized(401, "token expired"),
                               m_exc.NotFound(404, "gone")]
    for _ in range(3):
        err = worker.caller.refused(ctx_dict(), "list_protectable_instances",
                                    resource_type=SHARE)
        assert err.exc_type in ("InvalidState", "Forbidden",
                                "ResourceNotFound")
    err = worker.caller.refused(ctx_dict(), "show_protectable_instance",
                                resource_type=SHARE, resource_id="nope")
    assert err.exc_type == "ResourceNotFound"
    assert "nope" in err.value
    manila.add_share(project_id=PROJECT)
    assert len(worker.caller.call(ctx_dict(), "list_protectable_instances",
                                  resource_type=SHARE)) == 1


def test_an_unserialisable_result_is_a_contract_error(worker, monkeypatch,
                                                      quiet_server_log):
    monkeypatch.setattr(worker.engine, "list_protectable_types",
                        lambda: [object()])
    err = worker.caller.refused(ctx_dict(), "list_protectable_types")
    assert err.exc_type == "InvalidState"
    assert "req-unit" in err.value
    assert "The result of RPC list_protectable_types is not JSON " \
        "(request req-unit)" in quiet_server_log.text
    assert worker.caller.call(ctx_dict(), "list_checkpoints") == []


def test_results_that_are_json_already_are_sent_as_they_are():
    record = {"id": "cp-1", "resource": {"type": "T", "extra_info": {}},
              "error": None, "size": 1, "ok": True, "tags": ["a", 2.5]}
    assert rpc._primitive(record) is record
    # anything else still goes through to_primitive
    stamp = datetime.datetime(2026, 1, 1)
    assert rpc._primitive({"at": stamp}) == {
        "at": "2026-01-01T00:00:00.000000"}


def test_a_casts_result_is_not_serialised(worker, monkeypatch,
                                          quiet_server_log):
    """No reply goes to a cast: its result is dropped rather than
    converted (an unserialisable one logs nothing)."""
    calls = []

    def unserialisable():
        calls.append(1)
        return [object()]

    monkeypatch.setattr(worker.engine, "list_protectable_types",
                        unserialisable)
    worker.caller.cast(ctx_dict(), "list_protectable_types")
    wait_for(lambda: worker.server.consumer.acked == 1,
             what="the cast handled")
    assert calls == [1]
    assert "is not JSON" not in quiet_server_log.text
