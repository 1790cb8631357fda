"""SIGTERM (point 7 of issue 10): a worker stops within 3 s when the
broker and the store answer, within 10 s when either does not; what was
in flight stays in the store and finishes after the next start."""

from __future__ import annotations

import pytest

from share_worker.testing.tcp_proxy import TcpProxy
from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    pg_host_port,
    proxied,
    store_count,
    user_ctx,
    wait_for,
    wait_terminal,
)

COUNT = 10


def in_flight(setting, sim, client, worker):
    sim.sim.set_delays(snapshot_create=3600)
    shares = sim.sim.create_shares(PROJECT, COUNT)
    for share_id in shares:
        client.protect(user_ctx(), {"type": SHARE, "id": share_id})
    wait_for(lambda: len(sim.sim.snapshots(PROJECT)) == COUNT, timeout=30,
             what=lambda: "every snapshot creating\n" + worker.log_tail())
    return shares


def finish_after_restart(setting, sim, worker, events):
    worker.start()
    for snap in sim.sim.snapshots(PROJECT):
        sim.sim.set_status("snapshot", snap["id"], "available")
    wait_terminal(setting.db_url, COUNT, worker=worker)
    wait_for(lambda: len(events.of(".protect.end")) == COUNT, timeout=60,
             what="every protect.end after the restart")
    assert len(sim.sim.snapshots(PROJECT)) == COUNT


def test_sigterm_with_everything_up_stops_within_3_s(setting, sim):
    events = setting.events()
    worker = setting.worker().start()
    client = setting.client()
    setting.wait_ready(client, worker)
    in_flight(setting, sim, client, worker)
    took = worker.term(timeout=15)
    print("SIGTERM, all up: %.2f s" % took)
    assert took < 3.0, "stopped in %.1f s\n%s" % (took, worker.log_tail())
    assert worker.returncode == 0
    finish_after_restart(setting, sim, worker, events)


def test_sigterm_during_a_broker_outage_stops_within_10_s(rabbit_node,
                                                         setting, sim):
    setting.extra["oslo_messaging_rabbit"] = {"amqp_durable_queues": True}
    events = setting.events(rabbit_node.url, durable=True)
    worker = setting.worker(url=rabbit_node.url).start()
    client = setting.client(rabbit_node.url + "?amqp_durable_queues=true")
    setting.wait_ready(client, worker)
    in_flight(setting, sim, client, worker)
    rabbit_node.stop()
    for snap in sim.sim.snapshots(PROJECT)[:3]:     # events to publish
        sim.sim.set_status("snapshot", snap["id"], "available")
    wait_for(lambda: store_count(setting.db_url, "SELECT count(*) FROM "
                                 "events") >= 3, timeout=30,
             what="events waiting for the broker")
    took = worker.term(timeout=20)
    print("SIGTERM, broker down: %.2f s" % took)
    assert took < 10.0, "stopped in %.1f s\n%s" % (took, worker.log_tail())
    rabbit_node.start()
    finish_after_restart(setting, sim, worker, events)


@pytest.mark.parametrize("outage", ["cut", "stall"])
def test_sigterm_during_a_store_outage_stops_within_10_s(setting, sim,
                                                         outage):
    events = setting.events()
    with TcpProxy(*pg_host_port()) as proxy:
        worker = setting.worker(db_url=proxied(setting.db_url,
                                               proxy)).start()
        client = setting.client()
        setting.wait_ready(client, worker)
        in_flight(setting, sim, client, worker)
        getattr(proxy, outage)()
        took = worker.term(timeout=20)
        print("SIGTERM, store %s: %.2f s" % (outage, took))
        assert took < 10.0, "stopped in %.1f s\n%s" % (took,
                                                       worker.log_tail())
        if outage == "cut":
            proxy.restore()
        else:
            proxy.unstall()
        finish_after_restart(setting, sim, worker, events)
