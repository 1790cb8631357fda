"""A RabbitMQ restart (point 8 of issue 10) with durable queues
([oslo_messaging_rabbit] amqp_durable_queues = true, or quorum queues
with rabbit_quorum_queue = true) on the worker and its callers: casts
waiting in the queue while no worker runs survive the restart, and a
restart in the middle of a burst loses no accepted request and no
status event. The broker is a private node of the test's own."""

from __future__ import annotations

import threading

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

QUEUES = {"durable": {"amqp_durable_queues": True},
          "quorum": {"rabbit_quorum_queue": True}}


def query(options: dict) -> str:
    return "?" + "&".join("%s=true" % key for key in options)


@pytest.mark.parametrize("kind", sorted(QUEUES))
def test_requests_waiting_in_the_queue_survive_a_restart(rabbit_node,
                                                         setting, sim,
                                                         kind):
    options = QUEUES[kind]
    setting.extra["oslo_messaging_rabbit"] = dict(options)
    shares = sim.sim.create_shares(PROJECT, 30)
    events = setting.events(rabbit_node.url, durable=True)
    worker = setting.worker(url=rabbit_node.url).start()
    client = setting.client(rabbit_node.url + query(options))
    setting.wait_ready(client, worker)     # the queue exists
    worker.term(timeout=15)
    for share_id in shares:
        client.cast_protect(user_ctx(), {"type": SHARE, "id": share_id})
    wait_for(lambda: rabbit_node.queue_depths().get(setting.topic) == 30,
             timeout=20, what="the casts waiting in the queue")
    rabbit_node.restart()
    # (a quorum queue reports its messages once its leader is elected)
    wait_for(lambda: rabbit_node.queue_depths().get(setting.topic) == 30,
             timeout=30, what="the casts still queued after the restart")
    worker.start()
    wait_terminal(setting.db_url, 30, worker=worker)
    wait_for(lambda: len(events.of(".protect.end")) == 30, timeout=90,
             what="every protect.end")
    counts = audit_protects(setting.db_url, shares, sim.sim.snapshots(),
                            events.events())
    print("restart with casts queued (%s): %s" % (kind, counts.row()))
    assert counts.bad() == {}, counts.row()


def test_a_restart_mid_burst_loses_nothing(rabbit_node, setting, sim):
    options = QUEUES["durable"]
    setting.extra["oslo_messaging_rabbit"] = dict(options)
    sim.sim.set_delays(snapshot_create=2.0)
    shares = sim.sim.create_shares(PROJECT, 200)
    events = setting.events(rabbit_node.url, durable=True)
    worker = setting.worker(url=rabbit_node.url).start()
    client = setting.client(rabbit_node.url + query(options), timeout=60)
    setting.wait_ready(client, worker)
    sent = []

    def burst():
        for share_id in shares:
            # a cast the broker did not take is retried by the client
            client.cast_protect(user_ctx(), {"type": SHARE, "id": share_id})
            sent.append(share_id)

    sender = threading.Thread(target=burst)
    sender.start()
    wait_for(lambda: store_count(setting.db_url, "SELECT count(*) FROM "
                                 "checkpoints") >= 40, timeout=60,
             what="part of the burst recorded")
    rabbit_node.restart()
    sender.join(timeout=180)
    assert len(sent) == len(shares)
    wait_terminal(setting.db_url, len(shares), timeout=180, worker=worker)
    wait_for(lambda: len(events.of(".protect.end")) == len(shares),
             timeout=120, what=lambda: "every protect.end (%d)"
             % len(events.of(".protect.end")))
    counts = audit_protects(setting.db_url, shares, sim.sim.snapshots(),
                            events.events())
    print("restart mid-burst: %s" % counts.row())
    assert counts.bad() == {}, counts.row()
