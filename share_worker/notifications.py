"""Checkpoint status notifications (DESIGN section 4) on the bus.

The engine's outbox hands each committed status event to
:class:`NotifierSink`, which publishes it with the ``messagingv2``
driver on exchange ``share_worker``, topic ``notifications``, publisher
``share_worker.<host>``, priority INFO (ERROR for ``.error``)::

    sink = NotifierSink(messaging.notifier(conf, publisher_id(conf)))
    sink.publish("share_worker.checkpoint.protect.end", "INFO", payload)

The payloads' JSON Schemas are in ``doc/schemas/``.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg


def publisher_id(conf: cfg.ConfigOpts) -> str:
    return "share_worker.%s" % conf.host


class NotifierSink:
    """An engine event sink publishing through an oslo.messaging
    Notifier. With the default ``retry = -1`` a send waits for the
    broker, so an event leaves the outbox only once it is on the bus."""

    def __init__(self, notifier: Any) -> None:
        self._notifier = notifier

    def publish(self, event_type: str, priority: str, payload: dict) -> None:
        ctxt = {"project_id": payload.get("project_id")}
        if priority == "ERROR":
            self._notifier.error(ctxt, event_type, payload)
        else:
            self._notifier.info(ctxt, event_type, payload)
