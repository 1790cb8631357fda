"""The notification listener on kombu's memory transport: garbage of
any kind is dropped with one log line, never redelivered; Busy is tried
again a bounded number of times with backoff; a store that can't be
reached is waited for and the event then handled once."""

from __future__ import annotations

import logging
import threading

import pytest
from kombu.transport import memory

from share_worker import exception
from share_worker.amqp import wire
from share_worker.amqp.listener import NotificationListener
from tests.conftest import wait_for

EXCHANGE = "openstack"


def good(message_id="m-1", **fields):
    message = {"message_id": message_id, "publisher_id": "share.h1",
               "event_type": "share.create.end", "priority": "INFO",
               "payload": {"share_id": "s1", "project_id": "p1"},
               "timestamp": "2026-11-25 10:00:00.000000"}
    message.update(fields)
    return wire.encode(message)


class Handler:
    def __init__(self, failures=()):
        self.calls: list[wire.Notification] = []
        self.failures = list(failures)
        self._lock = threading.Lock()

    def __call__(self, notification):
        with self._lock:
            self.calls.append(notification)
            if self.failures:
                raise self.failures.pop(0)


@pytest.fixture
def listen(broker, unique):
    listeners = []

    def start(handler, attempts=3, backoff=0.01):
        listener = NotificationListener(
            broker, EXCHANGE, ["notifications_%s" % unique],
            "pool_%s" % unique, handler, prefetch=4, workers=2,
            attempts=attempts, backoff=backoff)
        assert listener.start(wait=5)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.stop()


POISON = [
    "not json", b"\xff\xfe binary", "[]", "null", "5",
    {"oslo.version": "2.0", "oslo.message": "{broken"},
    {"oslo.version": "9.9", "oslo.message": "{}"},
    good(priority=5), good(priority=None), good(priority=["INFO"]),
    good(event_type=5), good(event_type={"x": 1}), good(event_type=""),
    good(message_id=5), good(message_id=None), good(message_id=""),
    good(timestamp=5), good(timestamp=None),
    good(publisher_id=5), good(publisher_id=["x"]),
    wire.encode({"message_id": "m", "publisher_id": "p",
                 "event_type": "share.create.end", "priority": "INFO",
                 "timestamp": "t"}),                       # no payload
    good(message_id="x" * 300),
]


def test_every_poison_message_is_dropped_once(listen, publish, unique,
                                             caplog):
    caplog.set_level(logging.WARNING, logger="share_worker.amqp")
    handler = Handler()
    listener = listen(handler)
    for body in POISON:
        publish(body, EXCHANGE, "notifications_%s.info" % unique)
    publish(good("m-last"), EXCHANGE, "notifications_%s.info" % unique)
    wait_for(lambda: [n for n in handler.calls if n.message_id == "m-last"],
             what="the good notification after the poison")
    wait_for(lambda: listener.consumer.acked == len(POISON) + 1,
             what=lambda: "every message acknowledged (%d)"
             % listener.consumer.acked)
    dropped = [r for r in caplog.records if "was dropped" in r.getMessage()]
    assert len(dropped) == len(POISON), [r.getMessage() for r in dropped]
    assert [n.message_id for n in handler.calls] == ["m-last"]


def test_busy_is_tried_again_a_bounded_number_of_times(listen, publish,
                                                      unique, caplog):
    busy = exception.Busy(in_flight=1, limit=1)
    handler = Handler(failures=[busy] * 10)
    listener = listen(handler, attempts=3)
    publish(good("m-busy"), EXCHANGE, "notifications_%s.info" % unique)
    wait_for(lambda: listener.consumer.acked == 1,
             what="the notification given up and acknowledged")
    assert len(handler.calls) == 3
    assert "dropped after 3 attempts" in caplog.text


def test_busy_then_free_is_handled(listen, publish, unique):
    handler = Handler(failures=[exception.Busy(in_flight=1, limit=1)])
    listener = listen(handler, attempts=3)
    publish(good("m-1"), EXCHANGE, "notifications_%s.info" % unique)
    wait_for(lambda: listener.consumer.acked == 1, what="acknowledged")
    assert [n.message_id for n in handler.calls] == ["m-1", "m-1"]


def test_a_store_outage_is_waited_for_not_counted(listen, publish, unique):
    down = exception.StoreUnavailable(reason="connection refused")
    handler = Handler(failures=[down] * 5)
    listener = listen(handler, attempts=2)
    publish(good("m-1"), EXCHANGE, "notifications_%s.info" % unique)
    wait_for(lambda: listener.consumer.acked == 1, timeout=20,
             what="the notification handled once the store is back")
    assert len(handler.calls) == 6      # 5 outages, not bounded by 2


def test_a_message_in_hand_at_stop_goes_back_to_the_queue(
        listen, publish, unique, monkeypatch):
    # kombu's memory transport keeps unacknowledged messages of a closed
    # channel only when asked, as RabbitMQ always does.
    monkeypatch.setattr(memory.Channel, "do_restore", True)
    release = threading.Event()
    seen = []

    def slow(notification):
        seen.append(notification.message_id)
        release.wait(10)

    first = listen(slow)
    publish(good("m-1"), EXCHANGE, "notifications_%s.info" % unique)
    wait_for(lambda: seen, what="the message in hand")
    first.stop(timeout=0.2)       # the handler is still running
    assert first.consumer.acked == 0
    release.set()
    handler = Handler()
    listen(handler)
    wait_for(lambda: handler.calls, what="the message redelivered")
    assert [n.message_id for n in handler.calls] == ["m-1"]
