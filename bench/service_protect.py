"""Protect N shares through the service: casts from one producer over
RabbitMQ to the worker's console script (its defaults), timed to the
last ``protect.end`` an independent listener sees, next to the bare
python-manilaclient script of ``protect_2000.py``, in one run::

    .venv/bin/python bench/service_protect.py [--shares 2000] [--delay 2]
                                              [--rounds 2] [--set G.N=V]

Each round runs both, alternately, each on a fresh simulator (its own
process, N shares, every snapshot available *--delay* seconds after its
create); the worker on a fresh RabbitMQ vhost and SQLite store, with
``auth_strategy = noauth`` and ``max_in_flight`` raised to fit. The
worker's figures are those of its whole process tree (the
``share-worker`` process and its engine processes): CPU, peak threads
and peak RSS (summed, sampled every 50 ms). Printed: the median ratio
worker / bare of wall time (target <= 1.25), peak threads (<= 16) and
peak RSS (<= 250 MB).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from oslo_context import context as o_context

from share_worker import rpcapi
from share_worker.testing.events import EventListener
from share_worker.testing.rabbitmq import VirtualHost
from share_worker.testing.waiting import wait_for
from share_worker.testing.worker_process import WorkerProcess, write_config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
import protect_2000  # noqa: E402

PROJECT = protect_2000.PROJECT
SHARE = "OS::Manila::Share"
CTX = o_context.RequestContext(user_id="bench", project_id=PROJECT)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {"wall": 1.25, "threads": 16, "rss_mb": 250}


def _tree(pid: int) -> list[int]:
    """*pid* and its descendants."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _usage(pids: list[int]) -> tuple[float, int, float]:
    """(CPU seconds, threads, RSS MB) summed over *pids*."""
    cpu = threads = rss = 0
    tick = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / tick
        threads += int(fields[17])
        rss += int(fields[21]) * page
    return cpu, threads, rss / 2 ** 20


class TreePeaks(threading.Thread):
    """Peak threads and RSS of a process tree, every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True, name="tree-peaks")
        self.pid = pid
        self.threads = 0
        self.rss_mb = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            _, threads, rss = _usage(_tree(self.pid))
            self.threads = max(self.threads, threads)
            self.rss_mb = max(self.rss_mb, rss)


def thread_names(pids: list[int]) -> list[str]:
    """The Python thread names of *pids*, one line per process, from
    ``py-spy dump`` (which must be installed)."""
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    lines = []
    for pid in pids:
        try:
            out = subprocess.run([spy, "dump", "--pid", str(pid)],
                                 capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            lines.append("%d: py-spy failed: %s" % (pid, exc))
            continue
        names = collections.Counter(m.group(1) for m in re.finditer(
            r'^Thread \S+ \([^)]*\): "([^"]*)"', out, re.M))
        listed = ", ".join("%s x%d" % (n, c) if c > 1 else n
                           for n, c in sorted(names.items()))
        lines.append("%d: %d threads: %s" % (pid, sum(names.values()),
                                             listed))
    return lines


def run_service(args: argparse.Namespace, tmp: str) -> dict:
    vhost = VirtualHost(prefix="sw-bench-service").create()
    ended: set[str] = set()
    failed: set[str] = set()
    lock = threading.Lock()

    started: set[str] = set()
    all_started: list[float] = []

    def count(event_type: str, priority: str, payload: dict) -> None:
        if event_type.endswith(".protect.start"):
            with lock:
                started.add(payload.get("id"))
                if len(started) == args.shares:
                    all_started.append(time.monotonic())
        if event_type.endswith((".protect.end", ".protect.error")):
            with lock:
                (ended if event_type.endswith(".end") else failed).add(
                    payload.get("id"))

    status_topic = "bench_status_%s" % uuid.uuid4().hex[:6]
    listener = worker = api = None
    try:
        with _common.Children() as children:
            manila, root, shares = _common.seeded_simulator(
                children, tmp, args.delay, args.shares, PROJECT)
            topic = "bench_service_%s" % uuid.uuid4().hex[:6]
            options = {"topic": topic, "auth_strategy": "noauth",
                       "max_in_flight": max(10000, 2 * args.shares),
                       "max_in_flight_per_project":
                           max(5000, 2 * args.shares)}
            sections = {
                "DEFAULT": {"transport_url": vhost.url,
                            "host": "bench-service", "state_path": tmp},
                "share_worker": options,
                "manila_client": {"endpoint_override": manila},
                "database": {"connection": "sqlite:///%s" % os.path.join(
                    tmp, "service-%s.db" % uuid.uuid4().hex[:6])},
                "oslo_messaging_notifications": {"topics": status_topic},
                "manila_notifications": {"enabled": False}}
            for group, option, value in _common.settings(args.set):
                sections.setdefault(group or "DEFAULT", {})[option] = value
            config = write_config(os.path.join(tmp, "service.conf"),
                                  sections)
            listener = EventListener(vhost.url, status_topic, check=count)
            worker = WorkerProcess(config, os.path.join(tmp, "service.log"),
                                   cwd=ROOT).start()
            api = rpcapi.ShareWorkerAPI.from_url(vhost.url, topic=topic,
                                                 timeout=60)
            wait_for(lambda: _common.answers(api, CTX), timeout=120,
                     what="the worker answering")
            # Manila version discovery happens once per worker: not timed
            api.list_protectable_instances(CTX, SHARE, {"name": "none"})
            _common.control(root, "/_sim/stats", method="DELETE")
            peaks = TreePeaks(worker.pid)
            peaks.start()
            profiles = contextlib.ExitStack()
            for number, pid in enumerate(_tree(worker.pid)):
                if args.profile:
                    profiles.enter_context(_common.sampled(
                        pid, "%s-%d-%s.txt" % (
                            args.profile, args.round,
                            "worker" if number == 0 else "engine%d" % number)))
            cpu0 = _usage(_tree(worker.pid))[0]
            meter = _common.CpuMeter({"worker": worker.pid})
            meter.start()
            start = time.monotonic()
            for share_id in shares:
                api.cast_protect(CTX, {"type": SHARE, "id": share_id})
            cast = time.monotonic() - start
            if args.threads:
                wait_for(lambda: len(ended) >= len(shares) // 4,
                         timeout=args.timeout, what="a quarter done",
                         interval=0.02)
                for line in thread_names(_tree(worker.pid)):
                    print("  threads of " + line, flush=True)
            wait_for(lambda: len(ended) + len(failed) >= len(shares),
                     timeout=args.timeout, what="a protect.end per share",
                     interval=0.02)
            wall = time.monotonic() - start
            cpu = _usage(_tree(worker.pid))[0] - cpu0
            meter.stop()
            profiles.close()
            print("  machine CPU: %s" % meter.report().replace(
                "bench children", "simulator"), flush=True)
            peaks.stop.set()
            peaks.join()
            stats = _common.control(root, "/_sim/stats")
            worker.term(timeout=30)
            if args.log_dir:
                os.makedirs(args.log_dir, exist_ok=True)
                shutil.copy(os.path.join(tmp, "service.log"), os.path.join(
                    args.log_dir, "service-%d.log" % args.round))
    finally:
        _common.shut(api, listener, worker, vhost)
    return {"wall": wall, "cpu": cpu, "threads": peaks.threads,
            "started": all_started[0] - start if all_started else
            float("nan"), "cast": cast,
            "rss_mb": peaks.rss_mb, "ok": len(ended), "failed": len(failed),
            "requests": stats["total"] / args.shares,
            "creates": stats.get("spans", {}).get("POST /snapshots")}



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--set", action="append", default=[],
                        metavar="GROUP.NAME=VALUE",
                        help="a worker option (repeatable)")
    parser.add_argument("--threads", action="store_true",
                        help="print the Python threads of each worker "
                             "process a quarter of the way through (py-spy)")
    parser.add_argument("--profile", metavar="PREFIX", default=None,
                        help="py-spy samples of each worker process into "
                             "PREFIX-ROUND-PROCESS.txt (see protect_2000)")
    parser.add_argument("--log-dir", default=None,
                        help="keep the worker's log of each round there")
    args = parser.parse_args()
    # what protect_2000's bare run reads
    args.database_url = None
    runs: dict[str, list[dict]] = {"bare": [], "service": []}
    for number in range(1, args.rounds + 1):
        print("round %d of %d (%d shares, snapshot delay %.1f s)" % (
            number, args.rounds, args.shares, args.delay), flush=True)
        args.round = number
        order = ("bare", "service") if number % 2 else ("service", "bare")
        for kind in order:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    if kind == "bare":
                        args.set, extra = [], args.set
                        try:
                            result = protect_2000.one_run("bare", args, tmp,
                                                          None)
                        finally:
                            args.set = extra
                    else:
                        result = run_service(args, tmp)
                except Exception:
                    _common.print_log_tails(tmp)
                    raise
            runs[kind].append(result)
            protect_2000.report_run(kind, number, result, args.shares)
            if "cast" in result:
                print("          casts sent in %.1f s, the last protect.start "
                      "seen at %.1f s" % (result["cast"], result["started"]))
    wall = statistics.median(s["wall"] / b["wall"] for s, b in
                             zip(runs["service"], runs["bare"], strict=True))
    threads = max(r["threads"] for r in runs["service"])
    rss = max(r["rss_mb"] for r in runs["service"])
    print("service / bare, median of %d rounds:" % args.rounds)
    print("  wall time      %.2f  (target <= %.2f) %s" % (
        wall, TARGETS["wall"], protect_2000.verdict(wall, TARGETS["wall"])))
    print("service (worker and its engine processes), worst run:")
    print("  peak threads   %d  (target <= %d) %s" % (
        threads, TARGETS["threads"],
        protect_2000.verdict(threads, TARGETS["threads"])))
    print("  peak RSS       %.0f MB  (target <= %d) %s" % (
        rss, TARGETS["rss_mb"], protect_2000.verdict(rss, TARGETS["rss_mb"])))
    return 0 if protect_2000.unfinished(runs, args.shares) == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
