"""Publishes the status events the store's outbox holds, in order.

A status change and its event are committed together; this thread sends
the events to a sink and deletes them once sent, so a crash between the
two re-sends rather than loses (at-least-once, in order per record)::

    outbox = Outbox(op_store, sink=LoggingSink())
    outbox.start()
    outbox.poke()           # new events were committed
    outbox.stop()           # flushes what is pending first
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from share_worker.db.operations import OperationStore

LOG = logging.getLogger(__name__)

_BATCH = 500


class EventSink(Protocol):
    """Where status events go (the oslo.messaging Notifier in service)."""

    def publish(self, event_type: str, priority: str,
                payload: dict) -> None: ...


class LoggingSink:
    """Logs events; for running the engine without a message bus."""

    def publish(self, event_type: str, priority: str,
                payload: dict) -> None:
        LOG.info("event %s %s status=%s", event_type, payload.get("id"),
                 payload.get("status"))


class Outbox:
    """Drains the event outbox to a sink on its own thread."""

    def __init__(self, ops: OperationStore, sink: EventSink,
                 interval: float = 0.5) -> None:
        self._ops = ops
        self._sink = sink
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox",
                                        daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                LOG.exception("Publishing status events failed; retrying")

    def flush(self) -> int:
        """Publish every pending event; returns how many were sent.

        With several workers on one PostgreSQL store, one of them
        publishes at a time, everyone's events in order."""
        with self._ops.publisher_lock() as mine:
            return self._drain() if mine else 0

    def _drain(self) -> int:
        sent = 0
        while True:
            events = self._ops.pending_events(_BATCH)
            if not events:
                return sent
            done = []
            try:
                for event in events:
                    self._sink.publish(event["event_type"], event["priority"],
                                       event["payload"])
                    done.append(event["id"])
            finally:
                if done:
                    self._ops.delete_events(done)
            sent += len(done)
