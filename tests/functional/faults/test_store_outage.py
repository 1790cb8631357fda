"""The store unreachable (a TCP proxy in front of PostgreSQL, cut): casts
sent meanwhile are not acknowledged and not dropped; they wait in the
queue (at most rpc_prefetch in the worker's hands) and are recorded,
once each, when the store answers again."""

from __future__ import annotations

import time

from share_worker.testing.audit import audit_protects
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

CASTS = 50
OUTAGE = 10.0


def test_casts_during_a_store_outage_wait_and_are_recorded_once(
        setting, sim, rabbit_vhost):
    shares = sim.sim.create_shares(PROJECT, CASTS)
    events = setting.events()
    with TcpProxy(*pg_host_port()) as proxy:
        worker = setting.worker(db_url=proxied(setting.db_url,
                                               proxy)).start()
        client = setting.client()
        setting.wait_ready(client, worker)
        proxy.cut()
        for n, share_id in enumerate(shares):
            client.cast_protect(user_ctx(), {"type": SHARE, "id": share_id},
                                checkpoint_id=None if n % 2 else "out-%d" % n)
        queue = setting.topic

        def held() -> int:
            return rabbit_vhost.queue_depths().get(queue, 0)

        wait_for(lambda: held() == CASTS, timeout=20,
                 what=lambda: "all %d casts held in the queue (%d)"
                 % (CASTS, held()))
        # The outage lasts: nothing is acknowledged, nothing dropped.
        end = time.monotonic() + OUTAGE
        while time.monotonic() < end:
            assert held() == CASTS
            assert worker.alive, worker.log_tail()
        assert store_count(setting.db_url,
                           "SELECT count(*) FROM checkpoints") == 0
        proxy.restore()
        wait_terminal(setting.db_url, CASTS, worker=worker)
        wait_for(lambda: held() == 0, what="the queue drained")
        wait_for(lambda: len(events.of(".protect.end")) >= CASTS,
                 timeout=60, what="every protect.end")
        counts = audit_protects(setting.db_url, shares, sim.sim.snapshots(),
                                events.events())
        print("store outage of %.0f s: %s" % (OUTAGE, counts.row()))
        assert counts.bad() == {}, counts.row()
        assert counts.recorded == CASTS
        log = worker.log_text()
        assert "The store is unreachable" in log
        # one warning for the outage, not one per request and retry
        assert log.count("The store is unreachable") == 1, log[-3000:]
        assert worker.term(timeout=15) < 3.0
