"""oslo.messaging's wire format, checked against oslo.messaging's own
encoder and decoder."""

from __future__ import annotations

import json

import pytest
from oslo_messaging._drivers import common as rpc_common

from share_worker.amqp import wire


def test_an_envelope_oslo_messaging_reads():
    body = wire.encode({"method": "m", "args": {}})
    assert rpc_common.deserialize_msg(body) == {"method": "m", "args": {}}
    assert wire.decode(rpc_common.serialize_msg({"a": 1})) == {"a": 1}


@pytest.mark.parametrize("body, reason", [
    ("not json", "not JSON"), (b"\xff\xfe", "not UTF-8"),
    ("[]", "not an object"), ("null", "not an object"), (5, "not an object"),
    ({"oslo.version": "9.9", "oslo.message": "{}"}, "envelope version"),
    ({"oslo.version": "2.0", "oslo.message": 5}, "not a string"),
    ({"oslo.version": "2.0", "oslo.message": "{x"}, "not JSON"),
    ({"oslo.version": "2.0", "oslo.message": "[1]"}, "not an object"),
])
def test_garbage_is_a_bad_message(body, reason):
    with pytest.raises(wire.BadMessage) as err:
        wire.decode(body)
    assert reason in str(err.value)


def test_a_bare_dict_is_message_format_1_0():
    assert wire.decode(json.dumps({"method": "m"})) == {"method": "m"}


def test_a_request_and_its_context():
    request = wire.parse_request({
        "method": "protect", "args": {"a": 1}, "version": "1.1",
        "_msg_id": "m1", "_reply_q": "reply_1", "_unique_id": "u1",
        "_timeout": 30, "_context_project_id": "p1",
        "_context_roles": ["member"]})
    assert not request.is_cast and request.key == "u1"
    assert request.ctxt == {"project_id": "p1", "roles": ["member"]}
    assert request.call_monitor == 30


@pytest.mark.parametrize("message, reason", [
    ({"method": 5}, "names no method"),
    ({"method": "m", "args": []}, "args must be an object"),
    ({"method": "m", "args": "x"}, "args must be an object"),
    ({"method": "m", "version": 2}, "version must be a string"),
    ({"method": "m", "version": "two"}, "version must be a string"),
    ({"method": "m", "namespace": 5}, "namespace"),
    ({"method": "x" * 300}, "longer than"),
])
def test_bad_requests_keep_their_reply_address(message, reason):
    message = dict(message, _msg_id="m1", _reply_q="reply_1")
    with pytest.raises(wire.BadMessage) as err:
        wire.parse_request(message)
    assert reason in str(err.value)
    assert (err.value.msg_id, err.value.reply_q) == ("m1", "reply_1")


def test_a_failure_oslo_messaging_rebuilds_as_a_remote_error():
    data = wire.failure("InvalidInput", "share_worker.exception", "bad")
    error = rpc_common.deserialize_remote_exception(data, [])
    assert (error.exc_type, error.value) == ("InvalidInput", "bad")


def test_a_notification_round_trip():
    body = wire.notification("e-1", "share_worker.h", "x.y.end", "INFO",
                             {"id": "cp"}, "2026-01-01 00:00:00",
                             {"project_id": "p1"})
    note = wire.parse_notification(rpc_common.deserialize_msg(body))
    assert (note.message_id, note.event_type, note.priority) == (
        "e-1", "x.y.end", "INFO")
    assert note.payload == {"id": "cp"}
    assert note.ctxt == {"project_id": "p1"}
    v1 = wire.notification("e-1", "p", "t", "INFO", {}, "ts", {},
                           version=1.0)
    assert "oslo.version" not in v1 and v1["message_id"] == "e-1"
