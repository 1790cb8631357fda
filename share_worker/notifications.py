"""Checkpoint status notifications (DESIGN section 4) on the bus.

The engine's outbox hands each committed status event to
:class:`BusSink`, which publishes it as oslo.messaging's ``messagingv2``
driver would (exchange ``control_exchange``, default ``share_worker``;
routing key ``<topic>.<priority>`` for each ``[oslo_messaging_
notifications] topics``; publisher ``share_worker.<host>``; priority INFO,
ERROR for ``.error``), but with publisher confirms: ``publish`` returns
only once the broker has the message and raises otherwise, so the outbox
deletes an event only once it is on the bus::

    sink = BusSink(conf)
    sink.publish("share_worker.checkpoint.protect.end", "INFO", payload)
    sink.close()

Like oslo.messaging's notifier it declares the ``<topic>.<priority>``
queue, so events wait there until a listener without a pool comes. The
message id of each notification is the payload's ``event_id``. The
``driver`` option chooses the format: ``messagingv2`` (default),
``messaging`` (format 1.0), or ``log`` / ``noop`` (no bus). The
payloads' JSON Schemas are in ``doc/schemas/``.
"""

from __future__ import annotations

import datetime
import logging

from oslo_config import cfg

from share_worker import exception
from share_worker.amqp import wire
from share_worker.amqp.connection import Broker
from share_worker.amqp.publisher import Publisher

LOG = logging.getLogger(__name__)

_FORMATS = {"messagingv2": 2.0, "messaging": 1.0}
_SILENT = ("log", "noop")


def publisher_id(conf: cfg.ConfigOpts) -> str:
    return "share_worker.%s" % conf.host


class BusSink:
    """An outbox sink publishing status events with confirms."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        nconf = conf.oslo_messaging_notifications
        unknown = sorted(set(nconf.driver) - set(_FORMATS) - set(_SILENT))
        if unknown:
            raise exception.ConfigurationError(
                reason="[oslo_messaging_notifications] driver %s is not "
                       "supported for status events; use messagingv2, "
                       "messaging, log or noop" % ", ".join(unknown))
        self._formats = [_FORMATS[d] for d in nconf.driver if d in _FORMATS]
        self._log = "log" in nconf.driver
        self._topics = list(nconf.topics)
        self._publisher_id = publisher_id(conf)
        self._broker = Broker.from_conf(conf, nconf.transport_url)
        self._exchange = self._broker.topic_exchange(conf.control_exchange)
        self._publisher = Publisher(self._broker, confirm=True,
                                    name="events")

    def publish(self, event_type: str, priority: str, payload: dict) -> None:
        if self._log:
            LOG.info("event %s %s status=%s (event %s)", event_type,
                     payload.get("id"), payload.get("status"),
                     payload.get("event_id"))
        if not self._formats:
            return
        ctxt = {"project_id": payload.get("project_id")}
        stamp = str(datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None))
        for topic in self._topics:
            key = "%s.%s" % (topic, priority.lower())
            queue = self._broker.queue(key, self._exchange, key)
            for version in self._formats:
                body = wire.notification(
                    payload["event_id"], self._publisher_id, event_type,
                    priority, payload, stamp, ctxt, version=version)
                self._publisher.publish(body, self._exchange, key,
                                        declare=[queue])

    def close(self) -> None:
        self._publisher.close()
