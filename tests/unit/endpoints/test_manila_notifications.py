"""Manila's notifications: unpacked, routed, garbage dropped; Busy and
store outages go back to the listener, which tries again."""

import pytest

from share_worker import exception
from share_worker.amqp import wire
from share_worker.endpoints.manila_notifications import (
    ManilaNotificationEndpoint,
)


class Engine:
    def __init__(self, error=None):
        self.calls = []
        self.error = error

    def on_share_event(self, event_type, project_id, share_id, key):
        self.calls.append((event_type, project_id, share_id, key))
        if self.error:
            raise self.error
        return [{"id": "cp-1"}]


def note(event_type="share.create.end", payload=None, priority="INFO",
         message_id="m-1"):
    if payload is None:
        payload = {"share_id": "s1", "project_id": "p1",
                   "status": "creating"}
    return wire.Notification(message_id=message_id, publisher_id="share.h1",
                             event_type=event_type, priority=priority,
                             payload=payload,
                             timestamp="2026-11-25 10:00:00", ctxt={})


def test_a_share_event_reaches_the_engine_with_its_message_key():
    engine = Engine()
    ManilaNotificationEndpoint(engine).handle(note())
    assert engine.calls == [("share.create.end", "p1", "s1", "event:m-1")]


@pytest.mark.parametrize("notification", [
    note(payload="text"),
    note(payload=[]),
    note(payload={"project_id": "p1"}),
    note(payload={"share_id": "s/1", "project_id": "p1"}),
    note(payload={"share_id": "s1", "project_id": ["p1"]}),
    note(payload={"share_id": "s1", "project_id": 5}),
    note(event_type="share.create.start"),
    note(event_type="share.manage.end"),
    note(priority="ERROR"),
    note(priority="debug"),
], ids=lambda n: "%s-%s-%r" % (n.event_type, n.priority, n.payload))
def test_garbage_and_other_events_are_dropped(notification):
    engine = Engine()
    ManilaNotificationEndpoint(engine).handle(notification)
    assert engine.calls == []


@pytest.mark.parametrize("error", [
    exception.StoreUnavailable(reason="connection refused"),
    exception.Busy(in_flight=10, limit=10)])
def test_transient_failures_go_back_to_the_listener(error):
    endpoint = ManilaNotificationEndpoint(Engine(error))
    with pytest.raises(type(error)):
        endpoint.handle(note(event_type="share.delete.end"))


def test_a_bug_drops_the_event_instead_of_looping():
    ManilaNotificationEndpoint(Engine(KeyError("x"))).handle(note())
