"""Helpers the benchmark scripts share: child processes with bounded
waits, the Manila simulator in its own process, a throwaway database::

    with Children() as children:
        sim, url = start_simulator(children, log_dir, delay=2.0,
                                   shares=100, project="bench")
        share_ids = [s["id"] for s in control(root_of(url),
                                              "/_sim/shares")["shares"]]
        with fresh_database(None, log_dir) as db_url:
            ...
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import sqlalchemy as sa


def control(root: str, path: str, body: dict | None = None,
            method: str = "GET") -> dict:
    """One JSON request to the simulator's ``/_sim`` control surface."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(root + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def root_of(v2_url: str) -> str:
    """The simulator's root URL from its ``/v2`` endpoint."""
    return v2_url.rsplit("/v2", 1)[0]


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The child's next stdout line, or TimeoutError after *timeout* s.

    The child must flush each line (``print(..., flush=True)``).
    """
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no line from pid %d within %.0f s"
                               % (proc.pid, timeout))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                raise RuntimeError("pid %d exited (status %s) before "
                                   "printing a line" % (proc.pid,
                                                        proc.poll()))
            buf += chunk
    return buf.decode().strip()


def print_log_tails(log_dir: str, lines: int = 15) -> None:
    """The last *lines* of every ``*.log`` in *log_dir*, to stderr."""
    for name in sorted(os.listdir(log_dir)):
        if name.endswith(".log"):
            with open(os.path.join(log_dir, name), errors="replace") as f:
                tail = f.readlines()[-lines:]
            print("--- %s (last %d lines)" % (name, len(tail)),
                  file=sys.stderr)
            sys.stderr.writelines(tail)


class Children:
    """Child processes that are always stopped: SIGTERM, then SIGKILL
    after *grace* seconds. Use as a context manager."""

    def __init__(self, grace: float = 30.0) -> None:
        self.grace = grace
        self._procs: list[subprocess.Popen] = []

    def start(self, args: list[str], log_path: str,
              stdout_pipe: bool = False,
              stdin_pipe: bool = False) -> subprocess.Popen:
        """Run ``python args...``; stderr (and stdout unless piped) go to
        *log_path*; stdin is a pipe if *stdin_pipe*."""
        log = open(log_path, "ab")  # noqa: SIM115 - closed with the child
        try:
            proc = subprocess.Popen(
                [sys.executable, *args], stderr=log,
                stdin=subprocess.PIPE if stdin_pipe else None,
                stdout=subprocess.PIPE if stdout_pipe else log,
                env=dict(os.environ, PYTHONWARNINGS="ignore"))
        finally:
            log.close()
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> int | None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=self.grace)
        for pipe in (proc.stdout, proc.stdin):
            if pipe is not None:
                pipe.close()
        if proc in self._procs:
            self._procs.remove(proc)
        return proc.returncode

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for proc in list(reversed(self._procs)):
            self.stop(proc)


@contextlib.contextmanager
def sampled(pid: int, out: str | None) -> Iterator[None]:
    """py-spy samples process *pid* (threads, idle excluded) for the
    body's duration into *out* (collapsed stacks, one per line with its
    count); nothing when *out* is None. An *out* ending in ``.gil.txt``
    samples only the thread holding the GIL: where the CPU goes. py-spy
    must be installed (``pip install py-spy``)."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record",
         "--pid", str(pid), "--rate", "250", "--format", "raw",
         "--output", out, "--nonblocking",
         *(["--gil"] if out.endswith(".gil.txt") else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        _, err = spy.communicate(timeout=60)
        if spy.returncode not in (0, -2):
            print("py-spy failed: %s" % err.decode(errors="replace"),
                  file=sys.stderr)


def settings(items: list[str]) -> list[tuple[str | None, str, str]]:
    """``--set GROUP.NAME=VALUE`` items as (group, name, value); group
    None for ``NAME=VALUE`` ([DEFAULT])."""
    found = []
    for item in items:
        name, _, value = item.partition("=")
        group, _, option = name.rpartition(".")
        found.append((group or None, option, value))
    return found


def set_options(conf: object, items: list[str]) -> None:
    """Apply ``--set`` *items* to an oslo.config ``ConfigOpts``."""
    for group, option, value in settings(items):
        conf.set_override(option, value, group=group)


def shut(api: object = None, listener: object = None, worker: object = None,
         vhost: object = None) -> None:
    """Close what a run over the bus opened, each whatever the others
    did: an RPC client, an event listener, a worker process (killed), a
    RabbitMQ vhost (deleted); None is skipped."""
    try:
        if api is not None:
            api.close()
        if listener is not None:
            listener.stop()
    finally:
        try:
            if worker is not None:
                worker.kill()
        finally:
            if vhost is not None:
                vhost.delete()


def seeded_simulator(children: Children, log_dir: str, delay: float,
                     shares: int, project: str
                     ) -> tuple[str, str, list[str]]:
    """:func:`start_simulator`; its ``/v2`` URL, its root URL and the
    ids of its seeded shares."""
    _, url = start_simulator(children, log_dir, delay, shares, project)
    root = root_of(url)
    return url, root, [s["id"] for s in control(root, "/_sim/shares")[
        "shares"]]


def answers(api: object, ctxt: object) -> bool:
    """Whether the worker behind ``rpcapi.ShareWorkerAPI`` *api* answers
    a call (as *ctxt*) within 2 s."""
    try:
        api._client.prepare(timeout=2).call(ctxt.to_dict(),
                                            "list_protectable_types")
        return True
    except Exception:  # noqa: BLE001 - not yet
        return False


def start_simulator(children: Children, log_dir: str, delay: float,
                    shares: int, project: str
                    ) -> tuple[subprocess.Popen, str]:
    """The Manila simulator in its own process, *shares* seeded; returns
    the process and its ``/v2`` URL."""
    proc = children.start(
        ["-m", "share_worker.cmd.manila_simulator", "--port", "0",
         "--snapshot-delay", str(delay), "--seed-shares", str(shares),
         "--project", project],
        os.path.join(log_dir, "simulator.log"), stdout_pipe=True)
    url = read_line(proc, timeout=120)
    if not url.startswith("http"):
        raise RuntimeError("simulator did not start: %r" % url)
    return proc, url


@contextlib.contextmanager
def fresh_database(server_url: str | None, state_dir: str) -> Iterator[str]:
    """A database URL for one run, removed afterwards.

    None: a new SQLite file in *state_dir*. A PostgreSQL URL names the server
    (its database part, default ``postgres``, is only used to connect):
    a database of our own is created there and dropped at the end. Any
    other URL is used as given and left alone.
    """
    if server_url is None:
        path = os.path.join(state_dir,
                            "bench-%s.sqlite" % uuid.uuid4().hex[:10])
        try:
            yield "sqlite:///" + path
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path + suffix)
        return
    url = sa.engine.make_url(server_url)
    if not url.get_backend_name().startswith("postgresql"):
        yield server_url
        return
    admin = sa.create_engine(url.set(database=url.database or "postgres"),
                             isolation_level="AUTOCOMMIT")
    name = "sw_bench_%s" % uuid.uuid4().hex[:10]
    try:
        with admin.connect() as conn:
            conn.execute(sa.text('CREATE DATABASE "%s"' % name))
        try:
            yield url.set(database=name).render_as_string(
                hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(
                    'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name))
    finally:
        admin.dispose()


def _proc_cpu() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, user + system CPU seconds) of
    every process now."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                head, _, rest = f.read().rpartition(")")
        except OSError:
            continue                      # it ended meanwhile
        fields = rest.split()
        found[int(name)] = (head.partition("(")[2], int(fields[1]),
                            (int(fields[11]) + int(fields[12])) / tick)
    return found


class CpuMeter:
    """Where the machine's CPU time went between ``start()`` and
    ``stop()``, by role::

        meter = CpuMeter({"worker": worker_pid, "simulator": sim_pid})
        meter.start(); ...; meter.stop()
        meter.report()   # 'worker 2.1 s, worker children 0.8 s, ...'

    A role's pid counts with its descendants under "ROLE children";
    postgres and beam (RabbitMQ) processes count by name; this process
    is "bench"; the rest is "other"; idle is what nobody used.
    """

    def __init__(self, roles: dict[str, int]) -> None:
        self.roles = dict(roles, bench=os.getpid())
        self._before: dict[int, tuple[str, int, float]] = {}
        self._idle0 = 0.0
        self.used: dict[str, float] = {}
        self.idle = 0.0
        self.wall = 0.0
        self._t0 = 0.0

    @staticmethod
    def _idle_seconds() -> float:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
        return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._before = _proc_cpu()
        self._idle0 = self._idle_seconds()
        self._t0 = time.monotonic()

    def stop(self) -> None:
        self.wall = time.monotonic() - self._t0
        self.idle = self._idle_seconds() - self._idle0
        after = _proc_cpu()
        by_pid = {pid: role for role, pid in self.roles.items()}
        used: dict[str, float] = {}
        for pid, (comm, ppid, cpu) in after.items():
            spent = cpu - self._before.get(pid, ("", 0, 0.0))[2]
            if spent <= 0:
                continue
            role = self._role(pid, comm, ppid, after, by_pid)
            used[role] = used.get(role, 0.0) + spent
        self.used = used

    @staticmethod
    def _role(pid: int, comm: str, ppid: int,
              procs: dict[int, tuple[str, int, float]],
              by_pid: dict[int, str]) -> str:
        if pid in by_pid:
            return by_pid[pid]
        if comm.startswith("postgres"):
            return "postgres"
        if comm.startswith(("beam", "erl_child", "epmd")):
            return "rabbitmq"
        seen = set()
        while ppid and ppid not in seen:
            if ppid in by_pid:
                return by_pid[ppid] + " children"
            seen.add(ppid)
            ppid = procs.get(ppid, ("", 0, 0.0))[1]
        return "other"

    def report(self) -> str:
        parts = ["%s %.2f s" % (role, spent) for role, spent in sorted(
            self.used.items(), key=lambda item: -item[1])]
        return "%s; idle %.2f s of %.2f s x %d cores" % (
            ", ".join(parts), self.idle, self.wall, os.cpu_count() or 1)
