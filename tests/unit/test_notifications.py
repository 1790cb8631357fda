"""Status events as BusSink publishes them, received by a plain
oslo.messaging notification listener (``messagingv2``) on kombu's
in-process ``memory://`` transport: a consumer written for oslo's
Notifier sees no difference."""

from __future__ import annotations

import threading

import oslo_messaging
import pytest

from share_worker import messaging
from share_worker.notifications import BusSink, publisher_id
from tests.conftest import wait_for


class Listener:
    def __init__(self) -> None:
        self.seen: list[tuple] = []
        self._lock = threading.Lock()

    def _keep(self, priority, ctxt, publisher, event_type, payload,
              metadata):
        with self._lock:
            self.seen.append((priority, ctxt, publisher, event_type,
                              payload, metadata))

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep("INFO", ctxt, publisher_id, event_type, payload,
                   metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep("ERROR", ctxt, publisher_id, event_type, payload,
                   metadata)


@pytest.fixture
def bus_conf(conf):
    messaging.register_opts(conf)
    conf.set_override("transport_url", "kombu+memory:////")
    conf.set_override("topics", ["notifications_unit"],
                      group="oslo_messaging_notifications")
    return conf


def payload(event_id: str, sequence: int) -> dict:
    return {"id": "cp-1", "project_id": "p1", "status": "available",
            "payload_version": "1.1", "event_id": event_id,
            "sequence": sequence}


def test_an_oslo_listener_receives_the_events(bus_conf):
    sink = BusSink(bus_conf)
    # Like oslo's Notifier, the sink declares <topic>.<priority> queues:
    # events published before any listener runs wait there.
    sink.publish("share_worker.checkpoint.protect.end", "INFO",
                 payload("e-1", 2))
    sink.publish("share_worker.checkpoint.protect.error", "ERROR",
                 payload("e-2", 3))
    transport = messaging.notification_transport(bus_conf)
    got = Listener()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(exchange="share_worker",
                                          topic="notifications_unit")],
        [got], executor="threading")
    listener.start()
    try:
        wait_for(lambda: len(got.seen) == 2, timeout=10,
                 what=lambda: "two events, saw %s" % got.seen)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
        sink.close()
    by_type = {s[3]: s for s in got.seen}
    info = by_type["share_worker.checkpoint.protect.end"]
    assert info[0] == "INFO"
    assert info[1]["project_id"] == "p1"
    assert info[2] == publisher_id(bus_conf) == "share_worker.test-host"
    assert info[4] == payload("e-1", 2)
    # the notification's message id is the event's id
    assert info[5]["message_id"] == "e-1"
    assert by_type["share_worker.checkpoint.protect.error"][0] == "ERROR"


def test_a_driver_it_does_not_know_is_a_configuration_error(bus_conf):
    from share_worker import exception

    bus_conf.set_override("driver", ["routing"],
                          group="oslo_messaging_notifications")
    with pytest.raises(exception.ConfigurationError) as err:
        BusSink(bus_conf)
    assert "routing" in err.value.message


def test_noop_publishes_nothing_and_never_fails(bus_conf):
    bus_conf.set_override("driver", ["noop"],
                          group="oslo_messaging_notifications")
    bus_conf.set_override("transport_url", "rabbit://nobody:x@127.0.0.1:9/")
    sink = BusSink(bus_conf)
    sink.publish("share_worker.restore.end", "INFO", payload("e-3", 1))
    sink.close()


def test_publisher_id_names_the_host(conf):
    assert publisher_id(conf) == "share_worker.test-host"
