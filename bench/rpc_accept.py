"""How fast the worker accepts protect casts durably, next to a trivial
oslo.messaging endpoint on the same broker, measured in one run::

    .venv/bin/python bench/rpc_accept.py [--casts 5000] [--rounds 3]
                                         [--snapshot-delay 2]
                                         [--database-url URL] [--timeout 600]
                                         [--profile PREFIX]

One fresh RabbitMQ vhost (127.0.0.1:5672, deleted at the end), one
topic per server, each server in its own process, the producer (one
thread casting as fast as it can) in this one:

- baseline: a threading RPC server (pool 16, as the worker's) whose
  ``protect`` only counts; timed from the first cast until it has
  handled all N (its process stamps CLOCK_MONOTONIC when the Nth
  arrives, which is the same clock as ours on Linux);
- worker: the real ``share-worker`` (``WorkerService``) protecting N
  distinct shares of the Manila simulator (snapshot delay 2 s, so the
  engine does the Manila work while it accepts); timed from the first
  cast until the store holds all N checkpoint rows, polled with
  ``SELECT COUNT(*) FROM checkpoints`` every 20 ms: the row is what
  "accepted durably" means.

The two run alternately, ``--rounds`` times (each worker run on a fresh
database); each round prints its ratio and where the machine's CPU went,
and the result is the median ratio: one run on a 2-core machine swings
by +-0.1 with what else the scheduler runs meanwhile.

``--database-url`` takes a PostgreSQL server URL (e.g.
``postgresql+psycopg2://postgres@127.0.0.1:5432``): a fresh database is
created there and dropped at the end; default a SQLite file.
"""

from __future__ import annotations

import argparse
import configparser
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable

import oslo_messaging
import sqlalchemy as sa
from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import messaging, rpcapi
from share_worker.testing.rabbitmq import VirtualHost

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

PROJECT = "bench"
SHARE = "OS::Manila::Share"
TARGET_RATIO = 0.5
POLL = 0.02


def _messaging_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    messaging.register_opts(conf)
    conf([], project="share_worker_bench", default_config_files=[],
         default_config_dirs=[])
    return conf


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the trivial server (runs in its own process) ---------------------------

class TrivialEndpoint:
    """``protect`` only counts; ``ping`` answers readiness calls."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.done_at = 0.0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def ping(self, ctxt: dict) -> str:
        return "pong"

    def protect(self, ctxt: dict, resource: dict, options: dict | None = None,
                checkpoint_id: str | None = None) -> None:
        with self._lock:
            self.count += 1
            if self.count == self.expected:
                self.done_at = time.monotonic()
                self.done.set()


def serve_trivial(url: str, topic: str, expected: int, timeout: float) -> int:
    """Print ``ready``, then ``done COUNT MONOTONIC`` (or ``timeout
    COUNT``) once *expected* protects were handled."""
    conf = _messaging_conf()
    transport = messaging.rpc_transport(conf, url)
    endpoint = TrivialEndpoint(expected)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(exchange=conf.control_exchange,
                                         topic=topic, server="trivial"),
        [endpoint], executor="threading")
    server.start()
    print("ready %d" % conf.executor_thread_pool_size, flush=True)
    if endpoint.done.wait(timeout):
        print("done %d %.6f" % (endpoint.count, endpoint.done_at), flush=True)
    else:
        print("timeout %d" % endpoint.count, flush=True)
    server.stop()
    server.wait()
    transport.cleanup()
    return 0


# -- the producer side -------------------------------------------------------

def _ready(call: Callable[[], object], proc: subprocess.Popen,
           timeout: float) -> None:
    """Retry a cheap RPC call until the server in *proc* answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except oslo_messaging.MessagingException:
            if proc.poll() is not None:
                raise RuntimeError("server pid %d exited (status %s)" % (
                    proc.pid, proc.returncode)) from None
            if time.monotonic() > deadline:
                raise


def _cast_all(cast: Callable[..., None],
              share_ids: list[str]) -> tuple[float, float]:
    """Cast one protect per share; returns (start, all sent) times."""
    ctxt = o_context.RequestContext(user_id="bench", project_id=PROJECT)
    ids = [str(uuid.uuid4()) for _ in share_ids]
    start = time.monotonic()
    for share_id, checkpoint_id in zip(share_ids, ids, strict=True):
        cast(ctxt, {"type": SHARE, "id": share_id}, checkpoint_id)
    return start, time.monotonic()


def run_baseline(children: _common.Children, url: str, share_ids: list[str],
                 tmp: str, timeout: float) -> dict:
    topic = "bench_trivial_%s" % uuid.uuid4().hex[:8]
    proc = children.start(
        [os.path.abspath(__file__), "--serve-trivial", url, topic,
         "--casts", str(len(share_ids)), "--timeout", str(timeout)],
        os.path.join(tmp, "trivial.log"), stdout_pipe=True)
    pool = int(_common.read_line(proc, 60).split()[1])
    conf = _messaging_conf()
    transport = messaging.rpc_transport(conf, url)
    try:
        target = oslo_messaging.Target(exchange=conf.control_exchange,
                                       topic=topic,
                                       version=rpcapi.BASE_VERSION)
        client = oslo_messaging.get_rpc_client(transport, target)
        _ready(lambda: client.prepare(timeout=5).call({}, "ping"), proc,
               60)
        cpu0 = _cpu_seconds(proc.pid)
        meter = _common.CpuMeter({"server": proc.pid})
        meter.start()

        def cast(ctxt: o_context.RequestContext, resource: dict,
                 checkpoint_id: str) -> None:
            client.prepare().cast(ctxt.to_dict(), "protect",
                                  resource=resource, options=None,
                                  checkpoint_id=checkpoint_id)

        start, sent = _cast_all(cast, share_ids)
        line = _common.read_line(proc, timeout + 30).split()
        meter.stop()
        cpu = _cpu_seconds(proc.pid) - cpu0
    finally:
        transport.cleanup()
    children.stop(proc)
    if line[0] != "done":
        raise RuntimeError("trivial server handled only %s of %d casts "
                           "within %.0f s" % (line[1], len(share_ids),
                                              timeout))
    return {"elapsed": float(line[2]) - start, "sent": sent - start,
            "cpu": cpu, "pool": pool, "machine": meter.report()}


def _worker_config(path: str, url: str, topic: str, manila: str,
                   db_url: str, state: str, casts: int,
                   extra: list[str]) -> None:
    """The worker's config file; *extra* holds ``GROUP.NAME=VALUE``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_dict({
        "DEFAULT": {"transport_url": url, "state_path": state,
                    "host": "bench-worker"},
        "share_worker": {"topic": topic, "auth_strategy": "noauth",
                         "max_in_flight": str(max(10000, 2 * casts))},
        "manila_client": {"endpoint_override": manila},
        "database": {"connection": db_url}})
    for group, option, value in _common.settings(extra):
        group = group or "DEFAULT"
        if group != "DEFAULT" and not parser.has_section(group):
            parser.add_section(group)
        parser.set(group, option, value)
    with open(path, "w") as f:
        parser.write(f)


def _count_rows(db: sa.engine.Engine) -> int:
    with db.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM checkpoints")
                            ).scalar_one()


def run_worker(children: _common.Children, url: str, manila: str,
               sim_pid: int, db_url: str, share_ids: list[str], tmp: str,
               timeout: float, extra: list[str],
               profile: str | None = None) -> dict:
    topic = "bench_worker_%s" % uuid.uuid4().hex[:8]
    conf_path = os.path.join(tmp, "worker.conf")
    _worker_config(conf_path, url, topic, manila, db_url, tmp,
                   len(share_ids), extra)
    proc = children.start(
        ["-m", "share_worker.cmd.worker", "--config-file", conf_path],
        os.path.join(tmp, "worker.log"))
    api = rpcapi.ShareWorkerAPI.from_url(url, topic=topic, timeout=5)
    db = sa.create_engine(db_url)
    ctxt = o_context.RequestContext(user_id="bench", project_id=PROJECT)
    try:
        _ready(lambda: api.list_protectable_types(ctxt), proc, 120)
        # Manila version discovery happens once per worker: not timed.
        api.list_protectable_instances(ctxt, SHARE, {"name": "none"})
        root = _common.root_of(manila)
        _common.control(root, "/_sim/stats", method="DELETE")
        cpu0 = _cpu_seconds(proc.pid)
        meter = _common.CpuMeter({"worker": proc.pid, "simulator": sim_pid})
        meter.start()
        with _common.sampled(proc.pid, profile):
            start, sent = _cast_all(
                lambda c, r, cid: api.cast_protect(c, r, checkpoint_id=cid),
                share_ids)
            deadline = start + timeout
            rows = _count_rows(db)
            tick = threading.Event()
            while rows < len(share_ids) and time.monotonic() < deadline \
                    and proc.poll() is None:
                tick.wait(POLL)
                rows = _count_rows(db)
            elapsed = time.monotonic() - start
        meter.stop()
        cpu = _cpu_seconds(proc.pid) - cpu0
        stats = _common.control(root, "/_sim/stats")
        with db.connect() as conn:
            statuses = dict(conn.execute(sa.text(
                "SELECT status, COUNT(*) FROM checkpoints GROUP BY status"
            )).all())
    finally:
        api.close()
        db.dispose()
    children.stop(proc)
    if rows < len(share_ids):
        raise RuntimeError("worker recorded only %d of %d checkpoints "
                           "within %.0f s" % (rows, len(share_ids), timeout))
    return {"elapsed": elapsed, "sent": sent - start, "cpu": cpu,
            "stats": stats, "statuses": statuses, "pid": proc.pid,
            "machine": meter.report()}


def report_round(args: argparse.Namespace, number: int, db_url: str,
                 base: dict, work: dict) -> float:
    """Print one round (a baseline next to a worker run); its ratio."""
    n = args.casts
    b_rate, w_rate = n / base["elapsed"], n / work["elapsed"]
    ratio = w_rate / b_rate
    backend = sa.engine.make_url(db_url).get_backend_name()
    # The trivial server "kept up" when it finished within 5 % of the
    # producer: then the baseline is the producer's rate.
    kept_up = base["elapsed"] <= 1.05 * base["sent"]
    print("round %d of %d" % (number, args.rounds))
    print("  baseline (trivial)  %6.0f casts/s  %6.2f s  sent in %.2f s%s; "
          "server CPU %.2f s, pool %d" % (
              b_rate, base["elapsed"], base["sent"],
              " (kept up with the producer)" if kept_up else "",
              base["cpu"], base["pool"]))
    print("  worker (durable)    %6.0f casts/s  %6.2f s  sent in %.2f s; "
          "worker CPU %.2f s (%.2f ms/cast), store %s%s" % (
              w_rate, work["elapsed"], work["sent"], work["cpu"],
              work["cpu"] * 1000 / n, backend,
              ", " + " ".join(args.set) if args.set else ""))
    print("    CPU during the baseline: %s" % base["machine"])
    print("    CPU during the worker:   %s" % work["machine"])
    stats = work["stats"]
    print("    Manila work during the window: snapshot delay %.1f s; "
          "%d HTTP requests %s; checkpoints at the end %s" % (
              args.snapshot_delay, stats.get("total", 0),
              stats.get("requests", {}), work["statuses"]))
    print("  worker / baseline   %.2f" % ratio)
    return ratio


def report(args: argparse.Namespace, ratios: list[float]) -> None:
    median = statistics.median(ratios)
    print("casts N %d per run, one producer thread, the same message to "
          "both servers; durable = all N rows in checkpoints, SELECT "
          "COUNT(*) every %d ms" % (args.casts, POLL * 1000))
    print("worker / baseline   median %.2f of %d rounds (%s)  (target "
          ">= %.1f) %s" % (
              median, len(ratios), ", ".join("%.2f" % r for r in ratios),
              TARGET_RATIO, "OK" if median >= TARGET_RATIO else "BELOW"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--casts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="baseline / worker pairs, run alternately; "
                             "the median ratio is the result")
    parser.add_argument("--snapshot-delay", type=float, default=2.0)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server URL; default: a SQLite file "
                             "in a temp directory")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="deadline of each phase, seconds")
    parser.add_argument("--set", action="append", default=[],
                        metavar="GROUP.NAME=VALUE",
                        help="extra worker option, e.g. "
                             "share_worker.poll_interval=5 (repeatable)")
    parser.add_argument("--profile", metavar="PREFIX", default=None,
                        help="sample each worker run with py-spy into "
                             "PREFIX-<round>.txt (collapsed stacks)")
    parser.add_argument("--serve-trivial", nargs=2, metavar=("URL", "TOPIC"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.serve_trivial:
        return serve_trivial(*args.serve_trivial, args.casts, args.timeout)

    vhost = VirtualHost(prefix="sw-bench").create()
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                _common.Children() as children:
            sim, manila = _common.start_simulator(
                children, tmp, args.snapshot_delay, args.casts, PROJECT)
            share_ids = [s["id"] for s in _common.control(
                _common.root_of(manila), "/_sim/shares")["shares"]]
            share_ids = share_ids[:args.casts]
            ratios = []
            try:
                for number in range(1, args.rounds + 1):
                    base = run_baseline(children, vhost.url, share_ids, tmp,
                                        args.timeout)
                    with _common.fresh_database(args.database_url,
                                                tmp) as db_url:
                        work = run_worker(children, vhost.url, manila,
                                          sim.pid, db_url, share_ids, tmp,
                                          args.timeout, args.set,
                                          args.profile and "%s-%d.txt" % (
                                              args.profile, number))
                    ratios.append(report_round(args, number, db_url, base,
                                               work))
            except Exception:
                _common.print_log_tails(tmp)
                raise
    finally:
        vhost.delete()
    report(args, ratios)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
