"""The broker goes away while operations finish (a private RabbitMQ
node of the test's own, stopped and started again): no status event is
lost, with or without the worker stopped (SIGTERM) and started again
during the outage, and once the broker is back the events go out in
order per checkpoint. The queues are durable
([oslo_messaging_rabbit] amqp_durable_queues), as DESIGN says an
operator sets for a broker restart."""

from __future__ import annotations

import time

import pytest

from share_worker.testing.audit import audit_protects
from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    store_count,
    user_ctx,
    wait_for,
    wait_terminal,
)

COUNT = 20
#: the broker stays down at least this long once events wait for it
OUTAGE = 15.0


def pending_events(db_url: str) -> int:
    return store_count(db_url, "SELECT count(*) FROM events")


@pytest.mark.parametrize("restart_worker", [False, True],
                         ids=["worker-runs", "worker-restarted"])
def test_no_status_event_is_lost_across_a_broker_outage(
        rabbit_node, setting, sim, restart_worker):
    setting.extra["oslo_messaging_rabbit"] = {"amqp_durable_queues": True}
    sim.sim.set_delays(snapshot_create=4.0)
    shares = sim.sim.create_shares(PROJECT, COUNT)
    events = setting.events(rabbit_node.url, durable=True)
    worker = setting.worker(url=rabbit_node.url).start()
    # Callers declare the exchange too: durable, like the worker.
    client = setting.client(rabbit_node.url + "?amqp_durable_queues=true")
    setting.wait_ready(client, worker)
    made = [client.protect(user_ctx(), {"type": SHARE, "id": share_id})
            for share_id in shares]
    wait_for(lambda: events.of(".protect.start") >= {c["id"] for c in made},
             timeout=30, what="every protect.start")
    rabbit_node.stop()
    # The snapshots become available while the broker is down: their
    # .end events wait in the store.
    wait_terminal(setting.db_url, COUNT, worker=worker)
    wait_for(lambda: pending_events(setting.db_url) >= COUNT, timeout=30,
             what="the .end events kept in the outbox")
    if restart_worker:
        took = worker.term(timeout=20)
        assert took < 10.0, "SIGTERM during the outage took %.1f s" % took
        assert pending_events(setting.db_url) >= COUNT
        worker.start()          # its first sends fail at once: kept
    end = time.monotonic() + OUTAGE
    while time.monotonic() < end:
        assert worker.alive, worker.log_tail()
        assert pending_events(setting.db_url) >= COUNT
    rabbit_node.start()
    wait_for(lambda: len(events.of(".protect.end")) >= COUNT, timeout=120,
             interval=0.2, what=lambda: "every protect.end after the "
             "outage (%d seen)\n%s" % (len(events.of(".protect.end")),
                                       worker.log_tail()))
    wait_for(lambda: pending_events(setting.db_url) == 0, timeout=30,
             what="the outbox emptied")
    counts = audit_protects(setting.db_url, shares, sim.sim.snapshots(),
                            events.events())
    print("broker outage (%s): %s" % (
        "worker restarted" if restart_worker else "worker ran",
        counts.row()))
    assert counts.bad() == {}, counts.row()
    for cp in made:
        seq = [p["sequence"] for e, p in events.events()
               if p["id"] == cp["id"]]
        assert seq[:2] == [1, 2], (cp["id"], seq)
