"""The outbox: an event leaves the store only once the sink (the broker,
with confirms) took it; a failing sink keeps every event, in order, and
is tried again with backoff; a stop leaves what is unsent in the store.
Payloads are version 1.1: event_id and a per-record sequence."""

from __future__ import annotations

import datetime
import threading

import pytest

from share_worker.db.operations import OperationStore
from share_worker.db.store import Store
from share_worker.engine import outbox as outbox_mod
from share_worker.engine.outbox import Outbox
from tests.conftest import wait_for


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(outbox_mod, "_BACKOFF_MIN", 0.01)


class FlakySink:
    """Fails its first *failures* publishes, like a broker that is down."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, dict]] = []
        self.attempts = 0
        self._lock = threading.Lock()

    def publish(self, event_type, priority, payload):
        with self._lock:
            self.attempts += 1
            if self.failures:
                self.failures -= 1
                raise ConnectionError("broker unreachable")
            self.sent.append((event_type, payload))


def queued(ops: OperationStore, count: int) -> None:
    now = datetime.datetime(2026, 1, 1)
    for n in range(count):
        record = {"id": "cp-%d" % (n % 3), "status": "available"}
        ops.add_event("share_worker.checkpoint.protect.end", "INFO", record,
                      now)


def store(sqlite_url) -> OperationStore:
    s = Store.from_url(sqlite_url)
    s.upgrade()
    return OperationStore(s)


def test_a_failing_sink_loses_nothing_and_keeps_the_order(sqlite_url):
    ops = store(sqlite_url)
    queued(ops, 9)
    sink = FlakySink(failures=3)
    outbox = Outbox(ops, sink, interval=0.01)
    outbox.start()
    outbox.poke()
    wait_for(lambda: len(sink.sent) == 9, timeout=20,
             what="every event once the sink works")
    outbox.stop(timeout=2)
    assert ops.pending_events(100) == []
    assert sink.attempts == 12            # 3 failed tries, then 9
    ids = [p["event_id"] for _, p in sink.sent]
    assert len(set(ids)) == 9
    assert all(p["payload_version"] == "1.1" for _, p in sink.sent)
    # in the order they were queued
    assert [p["id"] for _, p in sink.sent] == ["cp-%d" % (n % 3)
                                               for n in range(9)]


def test_a_stop_while_the_sink_fails_keeps_the_events(sqlite_url):
    ops = store(sqlite_url)
    queued(ops, 4)
    sink = FlakySink(failures=10 ** 6)
    outbox = Outbox(ops, sink, interval=0.01)
    outbox.start()
    outbox.poke()
    wait_for(lambda: sink.attempts >= 2, what="a few failed tries")
    outbox.stop(timeout=1)
    pending = ops.pending_events(100)
    assert len(pending) == 4
    # the next start publishes them, with the same event ids
    again = FlakySink()
    restarted = Outbox(ops, again, interval=0.01)
    restarted.start()
    restarted.poke()
    wait_for(lambda: len(again.sent) == 4, what="the kept events")
    restarted.stop(timeout=1)
    assert [p["event_id"] for _, p in again.sent] == [
        e["event_id"] for e in pending]


def test_sequences_grow_per_record(sqlite_url):
    ops = store(sqlite_url)
    from tests.functional.test_store import checkpoint, operation

    ops.accept("checkpoint", checkpoint("cp-a"), operation("cp-a"),
               "share_worker.checkpoint.protect.start")
    ops.accept("checkpoint", checkpoint("cp-b"), operation("cp-b"),
               "share_worker.checkpoint.protect.start")
    now = datetime.datetime(2026, 1, 1, 13)
    for cid in ("cp-a", "cp-a", "cp-b"):
        ops.add_event("share_worker.checkpoint.delete.error", "ERROR",
                      {"id": cid}, now, about=("checkpoint", cid))
    ops.add_event("share_worker.checkpoint.protect.error", "ERROR",
                  {"id": None}, now)                 # about no record
    seqs = [(e["payload"]["id"], e["sequence"])
            for e in ops.pending_events(100)]
    assert seqs == [("cp-a", 1), ("cp-b", 1), ("cp-a", 2), ("cp-a", 3),
                    ("cp-b", 2), (None, 0)]


def test_a_redelivered_refusal_is_queued_once(sqlite_url):
    ops = store(sqlite_url)
    now = datetime.datetime(2026, 1, 1)
    for _ in range(3):
        ops.add_event("share_worker.checkpoint.protect.error", "ERROR",
                      {"id": None}, now, event_id="refusal-1")
    assert [e["event_id"] for e in ops.pending_events(10)] == ["refusal-1"]


def test_events_wait_while_requests_are_in_hand(sqlite_url, monkeypatch):
    """The share-worker process records requests first: while it has
    some in hand the outbox waits, then publishes; under a load that
    does not end it publishes after MAX_DEFER anyway."""
    monkeypatch.setattr(outbox_mod, "MAX_DEFER", 0.5)
    ops = store(sqlite_url)
    queued(ops, 2)
    sink = FlakySink()
    published = threading.Event()
    real_publish = sink.publish

    def publish(*args):
        real_publish(*args)
        published.set()

    sink.publish = publish
    outbox = Outbox(ops, sink, interval=0.01)
    busy = threading.Event()
    busy.set()
    outbox.defer = busy.is_set
    outbox.start()
    try:
        outbox.poke()
        assert not published.wait(0.2), "published while requests wait"
        busy.clear()                    # the burst is recorded
        wait_for(lambda: len(sink.sent) == 2, what="the events published")
        busy.set()                      # a load that does not end
        queued(ops, 1)
        outbox.poke()
        wait_for(lambda: len(sink.sent) == 3, timeout=5,
                 what="the event published after MAX_DEFER")
    finally:
        outbox.stop(timeout=1)
