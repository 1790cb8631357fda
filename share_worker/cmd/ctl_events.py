"""Status events for ``share-worker-ctl``: ``watch`` and ``--wait``.

A listener of its own (pool ``share-worker-ctl-<uuid>``, so it takes no
events from other consumers) queues share_worker's notifications::

    inbox = Inbox()
    listener = NotificationListener(url, "share_worker", "notifications",
                                    inbox)
    api.cast_delete(ctxt, "cp-1")
    final = follow(inbox, "delete", "cp-1", deadline, print)
    listener.stop()

The listener is started before a request is sent, so no event of it is
missed; its queue is deleted when it stops.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import kombu
import oslo_messaging
from oslo_config import cfg

from share_worker import messaging
from share_worker.cmd.ctl_output import Event
from share_worker.cmd.ctl_session import USAGE_OR_TIMEOUT, CtlError

LOG = logging.getLogger(__name__)

PREFIX = "share_worker."


class Kind(NamedTuple):
    """What ends a request's events: success and failure statuses."""

    record: str
    event_prefix: str
    running: str
    success: str
    failure: str


KINDS = {
    "protect": Kind("checkpoint", "share_worker.checkpoint.protect.",
                    "protecting", "available", "error"),
    "delete": Kind("checkpoint", "share_worker.checkpoint.delete.",
                   "deleting", "deleted", "error-deleting"),
    "restore": Kind("restore", "share_worker.restore.", "in_progress",
                    "success", "fail"),
}


class Inbox:
    """Notification endpoint: queues share_worker's events."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Event] = queue.Queue()

    def _event(self, ctxt: Any, publisher_id: str, event_type: str,
               payload: Any, metadata: Any) -> None:
        if not event_type.startswith(PREFIX) or not isinstance(payload,
                                                                dict):
            return
        metadata = metadata if isinstance(metadata, dict) else {}
        self._queue.put(Event(event_type,
                              str(metadata.get("priority", "")).upper(),
                              publisher_id or "",
                              str(metadata.get("timestamp", "")), payload))

    info = warn = error = critical = audit = debug = sample = _event

    def next(self, deadline: float | None) -> Event | None:
        """The next event, or None once *deadline* (monotonic) passed."""
        if deadline is None:
            return self._queue.get()
        left = deadline - time.monotonic()
        try:
            return self._queue.get(timeout=max(left, 0.0))
        except queue.Empty:
            return None


class NotificationListener:
    """A started oslo.messaging notification listener on its own pool."""

    def __init__(self, transport_url: str, exchange: str, topic: str,
                 endpoint: Any) -> None:
        conf = cfg.ConfigOpts()
        messaging.register_opts(conf)
        conf([], project="share_worker_ctl", default_config_files=[],
             default_config_dirs=[])
        self.pool = "share-worker-ctl-%s" % uuid.uuid4().hex
        self._conf = conf
        self._url = transport_url
        self._transport = messaging.notification_transport(conf,
                                                           transport_url)
        target = oslo_messaging.Target(exchange=exchange, topic=topic)
        self._listener = oslo_messaging.get_notification_listener(
            self._transport, [target], [endpoint], executor="threading",
            pool=self.pool)
        self._listener.start()

    def stop(self) -> None:
        self._listener.stop()
        self._listener.wait()
        self._transport.cleanup()
        self._delete_queue()

    def _delete_queue(self) -> None:
        # Topic queues never expire: without this every run would leave
        # a queue behind collecting every event from then on.
        url = oslo_messaging.TransportURL.parse(self._conf, self._url)
        if url.transport not in ("rabbit", "amqp") or not url.hosts:
            return
        host = url.hosts[0]
        conn = kombu.Connection(hostname=host.hostname, port=host.port,
                                userid=host.username,
                                password=host.password,
                                virtual_host=url.virtual_host or "/",
                                connect_timeout=5)
        try:
            with conn, contextlib.closing(conn.channel()) as channel:
                channel.queue_delete(self.pool)
        except Exception as e:  # noqa: BLE001 - best effort, said once
            LOG.warning("Could not delete queue %s: %s", self.pool, e)


def listen(transport_url: str, exchange: str, topic: str,
           endpoint: Any) -> NotificationListener:
    """The default listener factory of ``share-worker-ctl``."""
    return NotificationListener(transport_url, exchange, topic, endpoint)


# -- following one request ----------------------------------------------------

def outcome(kind: str, record: dict, event_type: str = "") -> bool | None:
    """True (succeeded), False (failed) or None (still going) for a
    record as returned (no *event_type*) or as an event carried it."""
    spec = KINDS[kind]
    if event_type.endswith(".error"):
        return False
    status = record.get("status")
    if status == spec.success:
        return True
    if status == spec.failure or not event_type and status != spec.running:
        return False
    return None


def follow(inbox: Inbox, kind: str, record_id: str, deadline: float,
           on_event: Callable[[Event], None]) -> tuple[dict, bool]:
    """Hand *record_id*'s *kind* events to *on_event* until one ends the
    request; return its payload and whether it succeeded."""
    spec = KINDS[kind]
    while True:
        event = inbox.next(deadline)
        if event is None:
            raise CtlError("%s %s did not reach %s or %s in time; it may "
                           "still get there (see 'show')" % (
                               spec.record, record_id, spec.success,
                               spec.failure), USAGE_OR_TIMEOUT)
        if (not event.event_type.startswith(spec.event_prefix)
                or event.payload.get("id") != record_id):
            continue
        on_event(event)
        done = outcome(kind, event.payload, event.event_type)
        if done is not None:
            return event.payload, done
