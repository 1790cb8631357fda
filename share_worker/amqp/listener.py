"""A notification listener with manual acknowledgements and bounded
retries: each message is acknowledged once handled, dropped with one
log line when it can't be (garbage of any kind), and retried in place
with backoff a bounded number of times when it failed for a transient
reason; it is never put back on its queue at wire speed::

    listener = NotificationListener(
        broker, exchange="openstack", topics=["notifications"],
        pool="share_worker_manila_events", handle=endpoint.handle,
        prefetch=16, workers=4, attempts=6, backoff=1.0)
    listener.start()
    ...
    listener.stop(timeout=2.0)

It binds the pool's queue as an oslo.messaging listener of the INFO
priority would (``<topic>.info`` on the exchange), so other consumers
of those topics keep their own copies. ``handle(notification)`` raises
``Busy`` (counted against *attempts*) or ``StoreUnavailable`` (not
counted: the message waits for the store, and so does intake) to have
the message tried again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from share_worker import exception
from share_worker.amqp import wire
from share_worker.amqp.connection import Broker
from share_worker.amqp.consumer import Abandon, Consumer, Delivery

LOG = logging.getLogger(__name__)

_STORE_RETRY_MAX = 5.0
_BACKOFF_MAX = 60.0


class NotificationListener:
    """See the module docstring."""

    def __init__(self, broker: Broker, exchange: str, topics: Sequence[str],
                 pool: str, handle: Callable[[wire.Notification], None],
                 prefetch: int = 16, workers: int = 4, attempts: int = 6,
                 backoff: float = 1.0) -> None:
        self._queue = broker.queue(pool, broker.topic_exchange(exchange),
                                   ["%s.info" % topic for topic in topics])
        self._handle_notification = handle
        self._attempts = attempts
        self._backoff = backoff
        self.consumer = Consumer(broker, lambda: [self._queue], self._handle,
                                 prefetch=prefetch, workers=workers,
                                 name="manila-events")

    def start(self, wait: float = 10.0) -> bool:
        """Start consuming; see :meth:`Consumer.start`."""
        return self.consumer.start(wait)

    def stop(self, timeout: float = 2.0) -> None:
        self.consumer.stop(timeout)

    def _handle(self, delivery: Delivery) -> None:
        try:
            notification = wire.parse_notification(
                wire.decode(delivery.body))
        except wire.BadMessage as e:
            LOG.warning("A notification on %s was dropped: %s",
                        self._queue.name, e)
            return
        attempt = 0
        delay = self._backoff
        store_delay = min(self._backoff, 0.5)
        while True:
            try:
                self._handle_notification(notification)
                return
            except exception.StoreUnavailable as e:
                LOG.warning("Notification %s (%s) waits %.1f s for the "
                            "store: %s", _quote(notification.message_id),
                            _quote(notification.event_type), store_delay,
                            e.message)
                wait = store_delay
                store_delay = min(store_delay * 2, _STORE_RETRY_MAX)
            except exception.Busy as e:
                attempt += 1
                if attempt >= self._attempts:
                    LOG.error("Notification %s (%s) dropped after %d "
                              "attempts: %s", _quote(notification.message_id),
                              _quote(notification.event_type), attempt,
                              e.message)
                    return
                LOG.warning("Notification %s (%s) tried again in %.1f s "
                            "(%d of %d): %s", _quote(notification.message_id),
                            _quote(notification.event_type), delay, attempt,
                            self._attempts, e.message)
                wait = delay
                delay = min(delay * 2, _BACKOFF_MAX)
            if self.consumer.stopping.wait(wait):
                raise Abandon()


def _quote(value: str) -> str:
    text = value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 64 else text[:64] + "..."
