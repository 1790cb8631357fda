"""Faults at scale: the fault suite's worst scenarios with many requests
and operations at once, each on a fresh simulator (its own process),
database and broker, printed as one table of what a user would count::

    .venv/bin/python bench/faults.py [--casts 1500] [--in-flight 200]
        [--scenarios burst-kill,broker-outage,takeover]
        [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432]

- burst-kill: ``--casts`` protect casts (ids derived from the messages)
  sent as fast as one producer can; the worker is killed (SIGKILL) once
  a third are recorded and started again;
- broker-outage: ``--in-flight`` protects whose snapshots become
  available while the broker (a private RabbitMQ node, durable queues)
  is down for 10 s;
- takeover: ``--in-flight`` protects on one worker, a tenth of their
  snapshot creates held by Manila; the worker stalls (SIGSTOP), a second
  worker on the same PostgreSQL store takes everything over, the held
  creates land late, the first worker is resumed.

Columns: sent, recorded, terminal, events seen (redelivered), duplicated
records, extra tagged snapshots, orphaned snapshots, missing events,
seconds. Exit status 1 if lost, duplicated, orphaned or missing is not
zero anywhere.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

from oslo_context import context as o_context

from share_worker import rpcapi
from share_worker.testing.audit import Counts, audit_protects
from share_worker.testing.events import EventListener
from share_worker.testing.rabbitmq import VirtualHost
from share_worker.testing.rabbitmq_node import RabbitNode
from share_worker.testing.waiting import wait_for
from share_worker.testing.worker_process import WorkerProcess, write_config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

PROJECT = "bench"
SHARE = "OS::Manila::Share"
CTX = o_context.RequestContext(user_id="bench", project_id=PROJECT)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait(predicate: Callable[[], object], timeout: float, what: str,
         interval: float = 0.2) -> object:
    return wait_for(predicate, timeout, interval, what)


class Run:
    """One scenario's simulator, database, workers and listener."""

    def __init__(self, children: _common.Children, tmp: str, url: str,
                 db_url: str, shares: int, delay: float) -> None:
        self.tmp = tmp
        self.url = url
        self.db_url = db_url
        _, manila = _common.start_simulator(children, tmp, delay, shares,
                                            PROJECT)
        self.manila = manila
        self.root = _common.root_of(manila)
        self.shares = [s["id"] for s in self.sim("/_sim/shares")["shares"]]
        self.topic = "bench_faults_%d" % os.getpid()
        self.notifications = "bench_notifications_%d" % os.getpid()
        self.workers: list[WorkerProcess] = []
        self.rabbit: dict = {}

    def sim(self, path: str, body: dict | None = None,
            method: str = "GET") -> dict:
        return _common.control(self.root, path, body, method)

    def snapshots(self) -> list[dict]:
        return self.sim("/_sim/snapshots")["snapshots"]

    def worker(self, name: str) -> WorkerProcess:
        path = write_config(os.path.join(self.tmp, name + ".conf"), {
            "DEFAULT": {"transport_url": self.url, "host": name,
                        "state_path": self.tmp},
            "share_worker": {"topic": self.topic, "auth_strategy": "noauth",
                             "poll_interval": 0.2, "lease_seconds": 3,
                             "max_in_flight": 100000},
            "manila_client": {"endpoint_override": self.manila,
                              "timeout": 5},
            "database": {"connection": self.db_url},
            "oslo_messaging_notifications": {"topics": self.notifications},
            "oslo_messaging_rabbit": self.rabbit,
            "manila_notifications": {"enabled": False}})
        worker = WorkerProcess(path, os.path.join(self.tmp, name + ".log"),
                               cwd=ROOT)
        self.workers.append(worker)
        return worker

    def client(self) -> rpcapi.ShareWorkerAPI:
        query = "?amqp_durable_queues=true" if self.rabbit else ""
        return rpcapi.ShareWorkerAPI.from_url(self.url + query,
                                              topic=self.topic, timeout=60)

    def ready(self, api: rpcapi.ShareWorkerAPI) -> None:
        wait(lambda: _common.answers(api, CTX), 60,
             "answer from the worker", 0.5)

    def count(self, where: str = "") -> int:
        return _count(self.db_url, where)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()



def _count(db_url: str, where: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM checkpoints " + where)).scalar_one()
    finally:
        engine.dispose()


TERMINAL = "WHERE status IN ('available', 'error')"


def burst_kill(run: Run, events: EventListener, casts: int) -> Counts:
    worker = run.worker("w1").start()
    api = run.client()
    run.ready(api)
    shares = run.shares[:casts]
    sender = threading.Thread(target=lambda: [
        api.cast_protect(CTX, {"type": SHARE, "id": s}) for s in shares])
    sender.start()
    wait(lambda: run.count() >= casts // 3, 120, "a third recorded", 0.02)
    worker.kill()
    at_kill = run.count()
    sender.join()
    worker.start()
    wait(lambda: run.count(TERMINAL) >= casts, 600, "every checkpoint done")
    wait(lambda: len(events.of(".protect.end")) >= casts, 120,
         "every protect.end")
    api.close()
    print("  burst-kill: killed with %d of %d recorded" % (at_kill, casts))
    return audit_protects(run.db_url, shares, run.snapshots(),
                          events.events())


def broker_outage(run: Run, events: EventListener, node: RabbitNode,
                  count: int) -> Counts:
    worker = run.worker("w1").start()
    api = run.client()
    run.ready(api)
    shares = run.shares[:count]
    for share_id in shares:
        api.cast_protect(CTX, {"type": SHARE, "id": share_id})
    wait(lambda: len(events.of(".protect.start")) >= count, 120,
         "every protect.start")
    api.close()
    node.stop()
    wait(lambda: run.count(TERMINAL) >= count, 300, "every snapshot done")
    down = time.monotonic()
    time.sleep(10.0)        # the outage itself: nothing to wait for
    node.start()
    wait(lambda: len(events.of(".protect.end")) >= count, 300,
         "every protect.end after the outage")
    print("  broker-outage: broker down %.0f s with %d events waiting"
          % (time.monotonic() - down, count))
    worker.term(timeout=30)
    return audit_protects(run.db_url, shares, run.snapshots(),
                          events.events())


def takeover(run: Run, events: EventListener, count: int) -> Counts:
    held = max(1, count // 10)
    rule = run.sim("/_sim/faults", {"method": "POST", "path": r"/snapshots$",
                                    "status": None, "hold": 600,
                                    "count": held}, "POST")["id"]
    first = run.worker("w1").start()
    api = run.client()
    run.ready(api)
    shares = run.shares[:count]
    for share_id in shares:
        api.cast_protect(CTX, {"type": SHARE, "id": share_id})
    wait(lambda: len(run.snapshots()) >= count - held and run.sim(
        "/_sim/faults/%d" % rule)["held"] == held, 120,
        "the creates made or held")
    first.pause()
    second = run.worker("w2").start()
    # A checkpoint whose create kept failing (an overloaded simulator
    # refusing connections) ends in error, with no snapshot: it counts.
    wait(lambda: len(run.snapshots()) + run.count(
        "WHERE status = 'error'") >= count, 180,
        "the second worker's own snapshots for the held creates")
    run.sim("/_sim/faults/%d/release" % rule, {}, "POST")
    wait(lambda: len(run.snapshots()) >= count + held, 60,
         "the held creates landed")
    for snap in run.snapshots():
        if snap["status"] == "creating":
            run.sim("/_sim/snapshots/%s/status" % snap["id"],
                    {"status": "available"}, "PUT")
    first.resume()
    wait(lambda: run.count(TERMINAL) >= count, 300, "every checkpoint done")
    wait(lambda: len([s for s in run.snapshots()
                      if s["status"] not in ("deleting",)]) <= count, 120,
         "the extra snapshots deleted")
    wait(lambda: len(events.of(".protect.end")) >= count, 120,
         "every protect.end")
    api.close()
    second.term(timeout=30)
    print("  takeover: %d creates held and landed late" % held)
    return audit_protects(run.db_url, shares, run.snapshots(),
                          events.events())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--casts", type=int, default=1500)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--scenarios",
                        default="burst-kill,broker-outage,takeover")
    parser.add_argument("--logs", default=None, metavar="DIR",
                        help="keep each scenario's logs in DIR/<scenario>")
    parser.add_argument("--database-url",
                        default="postgresql+psycopg2://postgres@127.0.0.1:"
                                "5432")
    args = parser.parse_args()
    # The listener's reconnection attempts during the outage are noise.
    logging.getLogger("oslo.messaging").setLevel(logging.CRITICAL)
    logging.getLogger("oslo_messaging").setLevel(logging.CRITICAL)
    rows: list[tuple[str, Counts, float]] = []
    for scenario in args.scenarios.split(","):
        started = time.monotonic()
        with _workdir(args.logs, scenario) as tmp, \
                _common.Children() as children, \
                _common.fresh_database(args.database_url, tmp) as db_url:
            try:
                rows.append((scenario, _scenario(scenario, args, children,
                                                 tmp, db_url),
                             time.monotonic() - started))
            except Exception:
                _common.print_log_tails(tmp)
                raise
    print()
    print("%-14s %6s %8s %8s %12s %10s %6s %7s %7s %7s"
          % ("scenario", "sent", "recorded", "terminal", "events (re)",
             "duplicated", "extra", "orphans", "missing", "seconds"))
    bad = False
    for name, c, seconds in rows:
        print("%-14s %6d %8d %8d %7d (%3d) %10d %6d %7d %7d %7.0f"
              % (name, c.sent, c.recorded, c.terminal, c.events_seen,
                 c.events_redelivered, c.duplicated, c.extra_snapshots,
                 c.orphans, c.events_missing, seconds))
        bad = bad or bool(c.bad())
    print("lost, duplicated, orphaned, missing: %s"
          % ("NOT ZERO" if bad else "all zero"))
    return 1 if bad else 0


@contextlib.contextmanager
def _workdir(logs: str | None, scenario: str) -> Iterator[str]:
    if logs is None:
        with tempfile.TemporaryDirectory(prefix="sw-faults-") as tmp:
            yield tmp
        return
    path = os.path.join(logs, scenario)
    os.makedirs(path, exist_ok=True)
    yield path


def _scenario(name: str, args: argparse.Namespace,
              children: _common.Children, tmp: str, db_url: str) -> Counts:
    if name == "broker-outage":
        with RabbitNode() as node:
            run = Run(children, tmp, node.url, db_url, args.in_flight, 5.0)
            run.rabbit = {"amqp_durable_queues": True}
            events = EventListener(node.url, run.notifications,
                                   durable=True)
            try:
                return broker_outage(run, events, node, args.in_flight)
            finally:
                run.close()
                events.stop()
    with VirtualHost(prefix="sw-faults") as vhost:
        count = args.casts if name == "burst-kill" else args.in_flight
        delay = 0.5 if name == "burst-kill" else 3600.0
        run = Run(children, tmp, vhost.url, db_url, count, delay)
        events = EventListener(vhost.url, run.notifications)
        try:
            if name == "burst-kill":
                return burst_kill(run, events, count)
            if name == "takeover":
                return takeover(run, events, count)
            raise SystemExit("unknown scenario %r" % name)
        finally:
            run.close()
            events.stop()


if __name__ == "__main__":
    sys.exit(main())
