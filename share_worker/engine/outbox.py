"""Publishes the status events the store's outbox holds, in order.

A status change and its event are committed together; this thread hands
the events to a sink, which returns only once the broker confirmed the
message, and deletes a row only then. A crash, a broker outage or a
stop before that re-sends rather than loses (at least once, in order
per record)::

    outbox = Outbox(op_store, sink=LoggingSink())
    outbox.start()
    outbox.poke()           # new events were committed
    outbox.stop()           # publishes what it can within a deadline

Each payload is the record as it was at the change, plus
``payload_version``, its ``event_id`` and ``sequence`` (DESIGN section
4): the same on every redelivery of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from share_worker.db.operations import OperationStore

LOG = logging.getLogger(__name__)

PAYLOAD_VERSION = "1.1"
_BATCH = 500
#: after a poke, how long events committed meanwhile may join the round:
#: under load a round (a read and a delete transaction) carries many
#: events instead of one or two
GATHER = 0.02
#: longest the outbox defers to work that comes first (requests being
#: recorded, see Outbox.defer) before it publishes anyway
MAX_DEFER = 1.0
#: pause after a failed publish, doubling while it keeps failing
_BACKOFF_MIN = 0.5
_BACKOFF_MAX = 10.0


class EventSink(Protocol):
    """Where status events go; ``publish`` raises when the event did not
    reach the bus, and the outbox keeps it."""

    def publish(self, event_type: str, priority: str,
                payload: dict) -> None: ...


class LoggingSink:
    """Logs events; for running the engine without a message bus."""

    def publish(self, event_type: str, priority: str,
                payload: dict) -> None:
        LOG.info("event %s %s status=%s", event_type, payload.get("id"),
                 payload.get("status"))


def event_payload(event: dict) -> dict:
    """The payload an outbox row is published with."""
    return dict(event["payload"], payload_version=PAYLOAD_VERSION,
                event_id=event["event_id"], sequence=event["sequence"])


class Outbox:
    """Drains the event outbox to a sink on its own thread."""

    def __init__(self, ops: OperationStore, sink: EventSink,
                 interval: float = 0.5) -> None:
        self._ops = ops
        self._sink = sink
        #: seconds between two looks at the store when not poked (events
        #: another process recorded are found by looking)
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: seconds to wait before the next try after a failure (0: none)
        self._backoff = 0.0
        #: events published, for tests and logs
        self.sent = 0
        #: whether this process has work that comes first (the
        #: share-worker process: requests in hand, whose callers wait for
        #: their record); the outbox then waits, at most MAX_DEFER
        self.defer: Callable[[], bool] = lambda: False

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="outbox",
                                        daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 3.0) -> None:
        """Publish what is pending within *timeout* seconds; what is
        left stays in the store for the next start."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                LOG.warning("The outbox did not finish publishing within "
                            "%.1f s; unsent events stay in the store",
                            timeout)
                return
        if self._backoff:
            LOG.warning("Events not yet published stay in the store (the "
                        "last publish failed); they go out at the next "
                        "start")
            return
        try:
            self.flush(deadline)
        except Exception as e:  # noqa: BLE001 - they stay in the store
            LOG.warning("Events not yet published stay in the store: %s", e)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self._backoff:
                if self._stopping.wait(self._backoff):
                    return
            else:
                if self._wake.wait(self.interval):
                    self._stopping.wait(GATHER)
                self._defer()
            self._wake.clear()
            try:
                self.flush()
            except Exception as e:  # noqa: BLE001 - kept, tried again
                if not self._backoff:
                    LOG.warning("Publishing status events failed (%s); "
                                "they stay in the store and are tried "
                                "again", e)
                self._backoff = min(max(self._backoff * 2, _BACKOFF_MIN),
                                    _BACKOFF_MAX)
            else:
                if self._backoff:
                    LOG.info("Publishing status events works again")
                self._backoff = 0.0

    def _defer(self) -> None:
        """Wait while the process has work that comes first, at most
        MAX_DEFER seconds."""
        until = time.monotonic() + MAX_DEFER
        while self.defer() and time.monotonic() < until:
            if self._stopping.wait(GATHER):
                return

    def flush(self, deadline: float | None = None) -> int:
        """Publish every pending event (until *deadline*, monotonic);
        returns how many were sent.

        With several workers on one PostgreSQL store, one of them
        publishes at a time, everyone's events in order."""
        with self._ops.publisher_lock() as mine:
            return self._drain(deadline) if mine else 0

    def _drain(self, deadline: float | None) -> int:
        sent = 0
        while deadline is None or time.monotonic() < deadline:
            events = self._ops.pending_events(_BATCH)
            if not events:
                return sent
            done = []
            try:
                for event in events:
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    self._sink.publish(event["event_type"], event["priority"],
                                       event_payload(event))
                    done.append(event["id"])
            finally:
                if done:
                    self._ops.delete_events(done)
                    self.sent += len(done)
            sent += len(done)
            if len(events) < _BATCH:
                # all there was: events committed since have poked the
                # outbox, which looks again at once
                return sent
        return sent
