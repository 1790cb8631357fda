"""Publishing on one kombu connection shared by threads, with publisher
confirms when asked: ``publish`` then returns only once the broker has
taken the message, and raises :class:`PublishError` when it has not::

    publisher = Publisher(broker, confirm=True, name="events")
    publisher.publish(body, exchange, "notifications.info",
                      declare=[queue])
    publisher.close()

A connection that broke is replaced on the next publish (once more in
the same call with ``retry``). Nothing here retries for long: a caller
that must not lose a message keeps it (the outbox keeps the row) and
tries again later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import kombu

from share_worker.amqp.connection import Broker, connection_errors

LOG = logging.getLogger(__name__)

#: seconds a publish (and its confirm) may take
PUBLISH_TIMEOUT = 5.0


class PublishError(Exception):
    """Raised when the broker did not take (or confirm) a message."""


class Publisher:
    """See the module docstring."""

    def __init__(self, broker: Broker, confirm: bool, name: str,
                 timeout: float = PUBLISH_TIMEOUT) -> None:
        self._broker = broker
        self._confirm = confirm
        self._name = name
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conn: kombu.Connection | None = None
        self._producer: kombu.Producer | None = None
        self._declared: set[tuple] = set()
        self._errors = connection_errors(broker.connect(heartbeat=False))
        #: the last failure, reported once until a publish succeeds again
        self._failing = False

    def publish(self, body: Any, exchange: kombu.Exchange | str,
                routing_key: str, declare: Sequence[kombu.Queue] = (),
                retry: bool = True, timeout: float | None = None) -> None:
        """Publish *body* (JSON); declare *exchange* and *declare* once
        per connection first."""
        attempts = 2 if retry else 1
        with self._lock:
            for attempt in range(1, attempts + 1):
                try:
                    self._publish(body, exchange, routing_key, declare,
                                  timeout or self._timeout)
                except Exception as e:  # noqa: BLE001 - classified below
                    self._reset()
                    if attempt < attempts and isinstance(e, self._errors):
                        continue
                    if not self._failing:
                        LOG.warning("%s: publishing to %s failed: %s",
                                    self._name, self._broker.describe(), e)
                    self._failing = True
                    raise PublishError(str(e) or type(e).__name__) from e
                if self._failing:
                    LOG.info("%s: publishing to %s works again", self._name,
                             self._broker.describe())
                    self._failing = False
                return

    def _publish(self, body: Any, exchange: kombu.Exchange | str,
                 routing_key: str, declare: Sequence[kombu.Queue],
                 timeout: float) -> None:
        if self._conn is None:
            conn = self._broker.connect(confirm=self._confirm,
                                        purpose=self._name, heartbeat=False)
            conn.connect()
            self._conn = conn
            self._producer = kombu.Producer(conn.channel(),
                                            auto_declare=False)
            self._declared = set()
        assert self._producer is not None
        channel = self._producer.channel
        if isinstance(exchange, kombu.Exchange) and exchange.name and \
                ("x", exchange.name) not in self._declared:
            exchange(channel).declare()
            self._declared.add(("x", exchange.name))
        for q in declare:
            key = ("q", q.name, q.routing_key)
            if key not in self._declared:
                q(channel).declare()
                self._declared.add(key)
        kwargs: dict[str, Any] = {"timeout": timeout}
        if self._confirm:
            kwargs["confirm_timeout"] = timeout
        self._producer.publish(body, exchange=exchange,
                               routing_key=routing_key, serializer="json",
                               retry=False, **kwargs)

    def _reset(self) -> None:
        conn, self._conn, self._producer = self._conn, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception:  # noqa: BLE001 - it is broken already
                LOG.debug("%s: closing a broken connection failed",
                          self._name, exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._reset()
