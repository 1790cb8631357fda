"""Manila's notifications: unpacked, routed, garbage dropped, store
outages put back."""

import oslo_messaging
import pytest
import sqlalchemy.exc

from share_worker.endpoints.manila_notifications import (
    ManilaNotificationEndpoint,
)

HANDLED = oslo_messaging.NotificationResult.HANDLED
REQUEUE = oslo_messaging.NotificationResult.REQUEUE
META = {"message_id": "m-1", "timestamp": "2026-11-25 10:00:00"}


class Engine:
    def __init__(self, error=None):
        self.calls = []
        self.error = error

    def on_share_event(self, event_type, project_id, share_id, key):
        self.calls.append((event_type, project_id, share_id, key))
        if self.error:
            raise self.error
        return [{"id": "cp-1"}]


def test_a_share_event_reaches_the_engine_with_its_message_key():
    engine = Engine()
    endpoint = ManilaNotificationEndpoint(engine)
    result = endpoint.info({}, "share.host1", "share.create.end",
                           {"share_id": "s1", "project_id": "p1",
                            "status": "creating"}, META)
    assert result == HANDLED
    assert engine.calls == [("share.create.end", "p1", "s1", "event:m-1")]


@pytest.mark.parametrize("event_type, payload, metadata", [
    ("share.create.end", None, META),
    ("share.create.end", "text", META),
    ("share.create.end", {"project_id": "p1"}, META),
    ("share.create.end", {"share_id": "s/1", "project_id": "p1"}, META),
    ("share.create.end", {"share_id": "s1", "project_id": ["p1"]}, META),
    ("share.create.end", {"share_id": "s1", "project_id": "p1"}, None),
    ("share.create.start", {"share_id": "s1", "project_id": "p1"}, META),
    ("share.manage.end", {"share_id": "s1", "project_id": "p1"}, META),
    (None, {"share_id": "s1", "project_id": "p1"}, META),
])
def test_garbage_and_other_events_are_dropped(event_type, payload,
                                              metadata):
    engine = Engine()
    endpoint = ManilaNotificationEndpoint(engine)
    assert endpoint.info({}, "x", event_type, payload, metadata) == HANDLED
    assert engine.calls == []


def test_an_unreachable_store_puts_the_event_back():
    engine = Engine(sqlalchemy.exc.OperationalError("insert", {}, None))
    endpoint = ManilaNotificationEndpoint(engine)
    assert endpoint.info({}, "x", "share.delete.end",
                         {"share_id": "s1", "project_id": "p1"},
                         META) == REQUEUE


def test_a_bug_drops_the_event_instead_of_looping():
    endpoint = ManilaNotificationEndpoint(Engine(KeyError("x")))
    assert endpoint.info({}, "x", "share.create.end",
                         {"share_id": "s1", "project_id": "p1"},
                         META) == HANDLED
