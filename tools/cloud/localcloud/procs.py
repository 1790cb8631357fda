"""Background processes with pid files, and readiness waits.

    svc = Process("keystone", argv, settings.run, settings.logs, env=env)
    svc.start()                      # no-op when already running
    wait_http("http://127.0.0.1:25000/v3", deadline(60), [svc])
    svc.stop()                       # SIGTERM, then SIGKILL at the deadline

A process runs in its own session, so its process group holds its children
(gunicorn's workers, manila-share's per-backend child) and is signalled as
a whole. The pid file holds the pid and the kernel's start time of that
pid, so a pid reused by another program after a reboot is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence


class CloudError(Exception):
    """Raised when a service cannot be installed, started or reached."""


def log(message: str) -> None:
    print("cloud: " + message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed(step: str) -> Iterator[None]:
    """Log how long STEP took: the numbers tell where start time goes."""
    begun = time.monotonic()
    yield
    log("%s: %.1f s" % (step, time.monotonic() - begun))


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds


def log_tail(path: pathlib.Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log at %s)" % path
    return "\n".join(["--- last lines of %s ---" % path] + text[-lines:])


def service_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without what would leak into a service's
    venv (PYTHONPATH of a test run, a shell's OS_* cloud settings)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
           and not key.startswith("OS_")}
    env.update(extra or {})
    return env


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name, or None."""
    try:
        raw = pathlib.Path("/proc/%d/stat" % pid).read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> str | None:
    fields = _stat(pid)
    if fields is None or fields[0] == "Z":  # a zombie has ended
        return None
    return fields[19]  # field 22 of stat: start time in clock ticks


def _group_alive(pgid: int) -> bool:
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[2]) == pgid:
                return True
    return False


class Process:
    def __init__(self, name: str, argv: Sequence[str], run: pathlib.Path,
                 logs: pathlib.Path, env: dict[str, str] | None = None,
                 cwd: pathlib.Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.pidfile = run / (name + ".pid")
        self.log = logs / (name + ".log")
        self.env = env
        self.cwd = cwd

    def pid(self) -> int | None:
        """The pid when the process we started still runs."""
        try:
            pid, started = self.pidfile.read_text().split()
        except (FileNotFoundError, ValueError):
            return None
        if _start_time(int(pid)) != started:
            return None
        return int(pid)

    def start(self) -> bool:
        """Start unless running; returns True when it started."""
        if self.pid() is not None:
            return False
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = service_env(self.env)
        with open(self.log, "ab") as log:
            log.write(b"\n==== %s: starting %s\n" % (
                time.strftime("%F %T").encode(), " ".join(self.argv).encode()))
            log.flush()
            child = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=self.cwd,
                start_new_session=True)
        self.pidfile.write_text("%d %s\n" % (child.pid,
                                             _start_time(child.pid)))
        return True

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM the process group, SIGKILL it after TIMEOUT seconds.

        Returns True when something was running.
        """
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        until = deadline(timeout)
        while _group_alive(pid) and time.monotonic() < until:
            time.sleep(0.1)
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
            while _group_alive(pid):
                time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        return True

    def memory_kib(self) -> tuple[int, int]:
        """(RSS, PSS) in KiB summed over the process group."""
        pid = self.pid()
        rss = pss = 0
        if pid is None:
            return rss, pss
        for entry in pathlib.Path("/proc").iterdir():
            fields = _stat(int(entry.name)) if entry.name.isdigit() else None
            if not fields or fields[0] == "Z" or int(fields[2]) != pid:
                continue
            try:
                rollup = (entry / "smaps_rollup").read_text().splitlines()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            for line in rollup:
                key, _, value = line.partition(":")
                if key == "Rss":
                    rss += int(value.split()[0])
                elif key == "Pss":
                    pss += int(value.split()[0])
        return rss, pss

    def check_alive(self) -> None:
        if self.pid() is None:
            raise CloudError("%s exited\n%s" % (self.name,
                                                 log_tail(self.log)))


def gunicorn_argv(gunicorn: str, host: str, port: int, app: str,
                  pythonpath: pathlib.Path) -> list[str]:
    """One worker with threads: enough for tests, light on 2 cores.

    No control socket: gunicorn 27 would otherwise put one per user in
    ~/.gunicorn, shared by every gunicorn of that user.
    """
    return [gunicorn, "--bind", "%s:%d" % (host, port),
            "--workers", "1", "--threads", "4", "--timeout", "120",
            "--no-control-socket", "--pythonpath", str(pythonpath), app]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def http_get(url: str, timeout: float = 3.0,
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body); HTTP errors are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_http(url: str, until: float, watch: Sequence[Process],
              ok: Callable[[int, bytes], bool] = lambda s, b: s < 500,
              ) -> None:
    """Poll URL until OK(status, body) holds; fail early when a watched
    process exits and at the deadline, with the log's last lines."""
    last = "no answer yet"
    while True:
        for process in watch:
            process.check_alive()
        try:
            status, body = http_get(url)
            if ok(status, body):
                return
            last = "HTTP %d: %s" % (status, body[:200])
        except OSError as err:  # refused, reset, timed out
            last = str(err)
        if time.monotonic() >= until:
            tails = "\n".join(log_tail(p.log) for p in watch)
            raise CloudError("%s not ready before the deadline (last: %s)"
                             "\n%s" % (url, last, tails))
        time.sleep(0.2)
