"""messaging.manila_notification_listener on the real RabbitMQ: it listens
on Manila's exchange and topics from ``[manila_notifications]``, in its
own pool, so another consumer of the same topic keeps every message."""

from __future__ import annotations

import threading
import time
import uuid

import oslo_messaging
import pytest
from oslo_config import cfg

from share_worker import conf as sw_conf
from share_worker import messaging


class Received:
    """A notification endpoint that keeps (event_type, payload)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self._cond = threading.Condition()

    def handle(self, notification):
        with self._cond:
            self.events.append((notification.event_type,
                                notification.payload))
            self._cond.notify_all()

    def wait(self, event_type: str, share_id: str,
             timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for etype, payload in self.events:
                    if etype == event_type and \
                            payload.get("share_id") == share_id:
                        return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s for share %s within %.0fs; "
                                         "saw %s" % (event_type, share_id,
                                                     timeout, self.events))
                self._cond.wait(left)


def _conf(overrides: dict) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    messaging.register_opts(conf)
    conf([], default_config_files=[], default_config_dirs=[])
    for (group, key), value in overrides.items():
        conf.set_override(key, value, group=group)
    return conf


@pytest.fixture
def manila_side(rabbit_vhost):
    """A publisher as Manila is configured: control_exchange 'manila',
    the messagingv2 driver, a topic of this test's own."""
    topic = "notifications_%s" % uuid.uuid4().hex[:8]
    conf = _conf({(None, "control_exchange"): "manila",
                    ("oslo_messaging_notifications", "topics"): [topic]})
    transport = messaging.notification_transport(conf, url=rabbit_vhost.url)
    notifier = oslo_messaging.Notifier(
        transport, publisher_id="share.host1", driver="messagingv2",
        topics=[topic])
    yield topic, notifier
    transport.cleanup()


@pytest.fixture
def listen():
    listeners = []

    def start(conf, endpoint):
        listener = messaging.manila_notification_listener(conf, endpoint)
        listener.start()
        listeners.append(listener)
        # Its queue exists (and is bound) once it consumes.
        assert listener.consumer.ready.wait(20), "the listener never "
        "consumed"
        return listener

    yield start
    for listener in listeners:
        listener.stop()


@pytest.mark.parametrize("where", ["own_url", "worker_url"])
def test_listener_follows_manila_notifications_group(rabbit_vhost,
                                                     manila_side, listen,
                                                     where):
    topic, notifier = manila_side
    group = "manila_notifications"
    overrides = {(group, "exchange"): "manila", (group, "topics"): [topic],
                 (group, "pool"): "sw-pool-ours"}
    if where == "own_url":
        # The worker's own broker is elsewhere; Manila's is named here.
        overrides[(None, "transport_url")] = "rabbit://nobody:x@127.0.0.1:9/"
        overrides[(group, "transport_url")] = rabbit_vhost.url
    else:
        overrides[(None, "transport_url")] = rabbit_vhost.url
    conf = _conf(overrides)
    # Another consumer of Manila's topic (e.g. Ceilometer), its own pool.
    other = Received()
    listen(_conf(dict(overrides) | {(group, "pool"): "ceilometer"}),
           other)
    ours = Received()
    listen(conf, ours)

    for event in ("share.create.end", "share.delete.end"):
        notifier.info({}, event, {"share_id": "s-1", "status": "creating"})
    for received in (ours, other):
        received.wait("share.create.end", "s-1")
        received.wait("share.delete.end", "s-1")


def test_listener_ignores_other_exchanges(rabbit_vhost, manila_side, listen):
    topic, notifier = manila_side
    group = "manila_notifications"
    conf = _conf({(None, "transport_url"): rabbit_vhost.url,
                    (group, "exchange"): "openstack",   # not Manila's here
                    (group, "topics"): [topic]})
    wrong, right = Received(), Received()
    listen(conf, wrong)
    listen(_conf({(None, "transport_url"): rabbit_vhost.url,
                    (group, "exchange"): "manila", (group, "topics"): [topic],
                    (group, "pool"): "probe"}), right)
    notifier.info({}, "share.create.end", {"share_id": "s-2"})
    right.wait("share.create.end", "s-2")
    # The same message reached the "manila" exchange; none on "openstack".
    assert wrong.events == []
