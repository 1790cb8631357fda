"""Protect N shares at once, the worker's engine next to a bare
python-manilaclient script doing the same snapshots, in one run::

    .venv/bin/python bench/protect_2000.py [--shares 2000] [--delay 2]
                                           [--rounds 2] [--database-url URL]
                                           [--profile PREFIX]

Each round runs both, alternately (the first to go swaps every round),
each in a process of its own against a fresh Manila simulator (its own
process, N shares seeded, every snapshot available *--delay* seconds
after its create):

- bare: 8 threads doing GET share + POST snapshot with
  python-manilaclient, and one detailed snapshot list every 0.25 s until
  every snapshot made is available: the least any client has to do;
- worker: the engine (``service.build_engine``, SQLite by default, or a
  fresh database on the PostgreSQL server ``--database-url`` names)
  protecting the N shares, timed to the last ``protect.end``; fed as
  the RPC server feeds it (``Engine.protect_later``, at most
  ``rpc_prefetch`` requests in hand, none waiting for its commit on a
  thread of its own), so concurrent requests share commits.

Printed per run: wall time, CPU per protect, peak threads, peak RSS and
Manila requests per protect; then the median ratios worker / bare of
wall time and CPU per protect, next to the targets. ``--shares 20000``
raises ``max_in_flight`` and ``max_in_flight_per_project`` to fit.
``--profile PREFIX`` samples each worker run with py-spy into
``PREFIX-<round>.txt`` (a PREFIX ending in ``.gil``: only the thread
holding the GIL, i.e. where the CPU goes).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

PROJECT = "bench"
SHARE = "OS::Manila::Share"
BARE_THREADS = 8
BARE_POLL = 0.25
VERSION = "2.73"
TARGETS = {"wall": 1.25, "cpu": 1.5, "requests": 2.1, "threads": 16,
           "rss_mb": 250}
BIG_TARGETS = {"threads": 16, "rss_mb": 300}
BIG = 10000


class Peaks(threading.Thread):
    """This process's peak thread count (every OS thread, from
    /proc/self/task) sampled every 10 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="peaks")
        self.threads = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.01):
            self.threads = max(self.threads,
                               len(os.listdir("/proc/self/task")) - 1)


def _measure(body, ready) -> dict:
    """Run *body()* (which returns when its work is done, with a dict of
    figures) between CPU and clock readings of this process, once
    *ready()* (which waits for the parent's go) returned."""
    ready()
    peaks = Peaks()
    peaks.start()
    cpu0, start = time.process_time(), time.monotonic()
    figures = body()
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu0
    peaks.stop.set()
    peaks.join()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(figures, wall=wall, cpu=cpu, threads=peaks.threads,
                rss_mb=rss)


# -- the bare client (a child process) ---------------------------------------

def run_bare(endpoint: str, share_ids: list[str], timeout: float,
             ready) -> dict:
    from keystoneauth1 import session, token_endpoint
    from manilaclient import client

    def make() -> object:
        auth = token_endpoint.Token(endpoint, "bench:%s" % PROJECT)
        return client.Client(VERSION, session=session.Session(auth=auth),
                             service_catalog_url=endpoint)

    manila = make()
    manila.share_snapshots.list(detailed=True, search_opts={"limit": 1})

    def body() -> dict:
        made: set[str] = set()
        lock = threading.Lock()
        todo = list(share_ids)
        failed = []

        def snapshot_all(api: object) -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    share_id = todo.pop()
                try:
                    share = api.shares.get(share_id)
                    snap = api.share_snapshots.create(
                        share, name="bare-" + share_id[:8])
                except Exception as e:  # noqa: BLE001 - counted, shown
                    failed.append("%s: %s" % (share_id, e))
                    continue
                with lock:
                    made.add(snap.id)

        threads = [threading.Thread(target=snapshot_all, args=(make(),))
                   for _ in range(BARE_THREADS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        tick = threading.Event()
        available = 0
        while time.monotonic() < deadline:
            tick.wait(BARE_POLL)
            listed = manila.share_snapshots.list(detailed=True)
            with lock:
                available = sum(1 for s in listed if s.id in made
                                and s.status == "available")
                if not todo and available + len(failed) >= len(share_ids) \
                        and not any(t.is_alive() for t in threads):
                    break
        for t in threads:
            t.join(timeout)
        return {"ok": available, "failed": len(failed),
                "errors": failed[:3]}

    return _measure(body, ready)


# -- the worker's engine (a child process) -----------------------------------

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


def run_worker(endpoint: str, share_ids: list[str], timeout: float,
               db_url: str, state: str, extra: list[str], ready) -> dict:
    from oslo_config import cfg
    from oslo_context import context as o_context

    from share_worker import conf as sw_conf
    from share_worker import service
    from share_worker.pending import Pending, resolve

    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    conf([], project="share_worker", default_config_files=[],
         default_config_dirs=[])
    conf.set_override("state_path", state)
    conf.set_override("auth_strategy", "noauth", group="share_worker")
    conf.set_override("endpoint_override", endpoint, group="manila_client")
    conf.set_override("connection", db_url, group="database")
    if len(share_ids) > BIG:
        for name in ("max_in_flight", "max_in_flight_per_project"):
            conf.set_override(name, 2 * len(share_ids), group="share_worker")
    _common.set_options(conf, extra)
    sink = CountingSink(len(share_ids))
    engine = service.build_engine(conf, sink=sink)
    engine.start()
    ctx = o_context.RequestContext(user_id="bench", project_id=PROJECT)
    # Manila version discovery happens once per worker: not timed.
    engine.list_protectable_instances(ctx, SHARE, {"name": "none"})

    def body() -> dict:
        start = time.monotonic()
        # fed as the RPC server feeds it: up to rpc_prefetch requests in
        # hand, none waiting for its commit on a thread of its own
        prefetch = conf.share_worker.rpc_prefetch
        in_hand = threading.BoundedSemaphore(prefetch)
        refused: list[str] = []

        def answered(value: Pending, future: object) -> None:
            try:
                resolve(value)      # nothing kept once it is answered
            except Exception as e:  # noqa: BLE001 - reported below
                refused.append(repr(e)[:200])
            finally:
                in_hand.release()

        for share_id in share_ids:
            in_hand.acquire()
            value = engine.protect_later(ctx, {"type": SHARE, "id": share_id})
            if isinstance(value, Pending):
                value.future.add_done_callback(
                    functools.partial(answered, value))
            else:
                in_hand.release()
        for _ in range(prefetch):       # every request answered
            in_hand.acquire(timeout=timeout)
        if refused:
            raise RuntimeError("%d protects refused, e.g. %s" % (
                len(refused), refused[0]))
        accepted = time.monotonic() - start
        sink.done.wait(timeout)
        return {"ok": sink.ended, "failed": sink.failed,
                "accepted": accepted}

    try:
        return _measure(body, ready)
    finally:
        engine.stop()
        engine.store.dispose()


# -- the parent: rounds, simulators, the report -----------------------------

def one_run(kind: str, args: argparse.Namespace, tmp: str,
            profile: str | None) -> dict:
    with _common.Children() as children:
        url, root, share_ids = _common.seeded_simulator(
            children, tmp, args.delay, args.shares, PROJECT)
        ids_path = os.path.join(tmp, "shares.json")
        with open(ids_path, "w") as f:
            json.dump(share_ids, f)
        with _common.fresh_database(args.database_url, tmp) as db_url:
            child = children.start(
                [os.path.abspath(__file__), "--child", kind, url, ids_path,
                 db_url, "--timeout", str(args.timeout),
                 *("--set=" + s for s in args.set)],
                os.path.join(tmp, "%s.log" % kind), stdout_pipe=True,
                stdin_pipe=True)
            ready = _common.read_line(child, 300)
            if ready.strip() != "ready":
                raise RuntimeError("%s run did not start: %r" % (kind, ready))
            _common.control(root, "/_sim/stats", method="DELETE")
            with _common.sampled(child.pid,
                                 profile if kind == "worker" else None):
                child.stdin.write(b"go\n")
                child.stdin.flush()
                line = _common.read_line(child, args.timeout + 120)
            children.stop(child)
        result = json.loads(line)
        stats = _common.control(root, "/_sim/stats")
    result["requests"] = stats["total"] / args.shares
    result["by_request"] = stats["requests"]
    result["creates"] = stats.get("spans", {}).get("POST /snapshots")
    return result


def child_main(args: argparse.Namespace) -> int:
    url, ids_path, db_url = args.child_args
    with open(ids_path) as f:
        share_ids = json.load(f)

    def ready() -> None:
        """Set up (not timed): tell the parent, wait for its go."""
        print("ready", flush=True)
        sys.stdin.readline()

    with tempfile.TemporaryDirectory() as state:
        if args.child == "bare":
            result = run_bare(url, share_ids, args.timeout, ready)
        else:
            result = run_worker(url, share_ids, args.timeout, db_url, state,
                                args.set, ready)
    print(json.dumps(result), flush=True)
    return 0


def report_run(kind: str, number: int, r: dict, shares: int) -> None:
    creates = r.get("creates") or [0.0, 0.0]
    print("  %-6s  wall %6.2f s  CPU %5.2f ms/protect  threads %3d  "
          "RSS %4.0f MB  requests/protect %.2f  creates %.1f-%.1f s  "
          "%sok %d failed %d%s" % (
              kind, r["wall"], r["cpu"] * 1000 / shares, r["threads"],
              r["rss_mb"], r["requests"], creates[0], creates[1],
              "accepted in %.1f s  " % r["accepted"] if "accepted" in r
              else "", r["ok"], r["failed"],
              "  " + "; ".join(r["errors"]) if r.get("errors") else ""))


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "ABOVE"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server URL; default: a SQLite file "
                             "in a temp directory")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--set", action="append", default=[],
                        metavar="GROUP.NAME=VALUE",
                        help="a worker option, e.g. "
                             "share_worker.poll_interval=0.5 (repeatable)")
    parser.add_argument("--profile", metavar="PREFIX", default=None)
    parser.add_argument("--child", choices=("bare", "worker"),
                        help=argparse.SUPPRESS)
    parser.add_argument("child_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args)

    runs: dict[str, list[dict]] = {"bare": [], "worker": []}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for number in range(1, args.rounds + 1):
                print("round %d of %d (%d shares, snapshot delay %.1f s, "
                      "store %s)" % (number, args.rounds, args.shares,
                                     args.delay,
                                     args.database_url or "SQLite"),
                      flush=True)
                order = ("bare", "worker") if number % 2 else \
                    ("worker", "bare")
                for kind in order:
                    profile = args.profile and "%s-%d.txt" % (
                        args.profile, number)
                    result = one_run(kind, args, tmp, profile)
                    runs[kind].append(result)
                    report_run(kind, number, result, args.shares)
        except Exception:
            _common.print_log_tails(tmp)
            raise

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    wall = statistics.median(w["wall"] / b["wall"] for w, b in
                             zip(runs["worker"], runs["bare"], strict=True))
    cpu = statistics.median(w["cpu"] / b["cpu"] for w, b in
                            zip(runs["worker"], runs["bare"], strict=True))
    targets = dict(TARGETS)
    if args.shares > BIG:
        targets.update(BIG_TARGETS)
    worker = {key: max(r[key] for r in runs["worker"])
              for key in ("threads", "rss_mb", "requests")}
    print("worker / bare, median of %d rounds:" % args.rounds)
    print("  wall time          %.2f  (target <= %.2f) %s" % (
        wall, targets["wall"], verdict(wall, targets["wall"])))
    print("  CPU per protect    %.2f  (target <= %.2f) %s  [worker %.2f ms, "
          "bare %.2f ms]" % (cpu, targets["cpu"],
                             verdict(cpu, targets["cpu"]),
                             median("worker", "cpu") * 1000 / args.shares,
                             median("bare", "cpu") * 1000 / args.shares))
    print("worker, worst run:")
    print("  requests/protect   %.2f  (target <= %.1f) %s  [bare %.2f]" % (
        worker["requests"], targets["requests"],
        verdict(worker["requests"], targets["requests"]),
        median("bare", "requests")))
    print("  peak threads       %d  (target <= %d) %s" % (
        worker["threads"], targets["threads"],
        verdict(worker["threads"], targets["threads"])))
    print("  peak RSS           %.0f MB  (target <= %d) %s" % (
        worker["rss_mb"], targets["rss_mb"],
        verdict(worker["rss_mb"], targets["rss_mb"])))
    return 0 if unfinished(runs, args.shares) == 0 else 1


def unfinished(runs: dict[str, list[dict]], shares: int) -> int:
    """Protects that failed or never ended, over every run."""
    return sum(shares - r["ok"] for rs in runs.values() for r in rs)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
