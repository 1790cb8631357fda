"""Protect 2,000 shares at once against the Manila simulator.

The simulator runs in its own process with a 2 s snapshot delay; the
engine (SQLite store by default) protects every share at once and the
script prints what the issue asks for, measured in this one run::

    .venv/bin/python bench/protect_2000.py [--shares 2000] [--delay 2]
                                           [--database-url URL]

- wall time / ideal time (ideal: the snapshot delay, i.e. every snapshot
  made at the same instant and seen the instant it is ready);
- peak threads and peak RSS of the worker process;
- Manila HTTP requests per protect (counted by the simulator).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time

from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import conf as sw_conf
from share_worker import service

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (  # noqa: E402
    Children,
    control,
    fresh_database,
    root_of,
    start_simulator,
)

PROJECT = "bench"


class CountingSink:
    """Counts terminal events; nothing else is kept."""

    def __init__(self, expected: int) -> None:
        self.ended = 0
        self.failed = 0
        self.expected = expected
        self.done = threading.Event()
        self._lock = threading.Lock()

    def publish(self, event_type: str, priority: str, payload: dict) -> None:
        if not event_type.endswith((".end", ".error")):
            return
        with self._lock:
            if event_type.endswith(".end"):
                self.ended += 1
            else:
                self.failed += 1
            if self.ended + self.failed >= self.expected:
                self.done.set()


class Peaks(threading.Thread):
    """Samples this process's thread count and RSS every 10 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.threads = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.01):
            self.threads = max(self.threads, threading.active_count())


def build_conf(state: str, endpoint: str, db_url: str | None,
               workers: int, poll: float) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    conf([], project="share_worker", default_config_files=[],
         default_config_dirs=[])
    conf.set_override("state_path", state)
    conf.set_override("auth_strategy", "noauth", group="share_worker")
    conf.set_override("manila_workers", workers, group="share_worker")
    conf.set_override("poll_interval", poll, group="share_worker")
    conf.set_override("endpoint_override", endpoint, group="manila_client")
    if db_url:
        conf.set_override("connection", db_url, group="database")
    return conf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=8,
                        help="[share_worker] manila_workers")
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--database-url", default=None,
                        help="default: a SQLite file in a temp directory; "
                             "a PostgreSQL URL names a server where a "
                             "database is made for the run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state, Children() as children, \
            fresh_database(args.database_url, state) as db_url:
        _sim, url = start_simulator(children, state, args.delay,
                                    args.shares, PROJECT)
        root = root_of(url)
        conf = build_conf(state, url, db_url, args.workers,
                          args.poll_interval)
        sink = CountingSink(args.shares)
        engine = service.build_engine(conf, sink=sink)
        share_ids = [s["id"] for s in
                     control(root, "/_sim/shares")["shares"]]
        engine.start()
        ctx = o_context.RequestContext(user_id="bench",
                                       project_id=PROJECT)
        # Warm the client (version discovery) outside the timing.
        engine.list_protectable_instances(ctx, "OS::Manila::Share",
                                          {"name": "none"})
        control(root, "/_sim/stats", method="DELETE")
        peaks = Peaks()
        peaks.start()
        cpu0 = time.process_time()
        start = time.monotonic()
        for share_id in share_ids:
            engine.protect(ctx, {"type": "OS::Manila::Share",
                                 "id": share_id})
        accepted = time.monotonic() - start
        finished = sink.done.wait(timeout=600)
        wall = time.monotonic() - start
        cpu = time.process_time() - cpu0
        peaks.stop.set()
        stats = control(root, "/_sim/stats")
        engine.stop()
        engine.store.dispose()

    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = usage.ru_maxrss / 1024
    requests = stats["total"]
    print("shares protected     %d ok, %d failed%s" % (
        sink.ended, sink.failed, "" if finished else " (TIMED OUT)"))
    print("all accepted after   %.2f s" % accepted)
    print("wall time            %.2f s" % wall)
    print("ideal time           %.2f s (the snapshot delay)" % args.delay)
    print("worker CPU           %.2f s (%.2f ms per protect)" % (
        cpu, cpu * 1000 / args.shares))
    print("wall / ideal         %.2f   (target <= 1.3)" % (wall / args.delay))
    print("peak threads         %d      (target <= 32)" % peaks.threads)
    print("peak RSS             %.0f MB  (target <= 250)" % rss_mb)
    print("HTTP requests        %d: %s" % (requests, json.dumps(
        stats["requests"], sort_keys=True)))
    print("requests per protect %.2f   (target <= 3)" % (
        requests / args.shares))
    return 0 if finished and not sink.failed else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
