"""A ``share-worker`` in a process of its own, for fault tests and
benchmarks: started from a configuration file, killed (SIGKILL),
paused (SIGSTOP) and resumed, stopped with SIGTERM and timed::

    path = write_config(tmp / "w1.conf", {
        "DEFAULT": {"transport_url": url, "host": "w1"},
        "share_worker": {"topic": "sw-test", "auth_strategy": "noauth"},
        "database": {"connection": db_url}})
    worker = WorkerProcess(path, tmp / "w1.log").start()
    worker.kill()                       # kill -9
    worker.start()                      # the same configuration again
    seconds = worker.term(timeout=15)   # SIGTERM; how long it took
    worker.log_text()

It runs ``python -m share_worker.cmd.worker`` with the interpreter of
this process, so a test of a virtualenv tests that virtualenv's code.
The worker leads a process group of its own, with the engine processes
it starts (``[share_worker] engine_processes``): kill, pause and resume
signal the whole group, as a crash or a stalled host would stop them
all; SIGTERM goes to the worker alone, which stops its engines.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Mapping


def write_config(path: str | os.PathLike,
                 sections: Mapping[str, Mapping[str, object]]) -> str:
    """An oslo.config file at *path* from {section: {option: value}};
    lists become comma-separated values."""
    lines = []
    for section, options in sections.items():
        lines.append("[%s]" % section)
        for key, value in options.items():
            if isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            lines.append("%s = %s" % (key, value))
        lines.append("")
    pathlib.Path(path).write_text("\n".join(lines))
    return str(path)


class WorkerProcess:
    """One share-worker process; see the module docstring."""

    def __init__(self, config: str | os.PathLike, log: str | os.PathLike,
                 cwd: str | None = None) -> None:
        self.config = str(config)
        self.log = str(log)
        self._cwd = cwd
        self.proc: subprocess.Popen | None = None
        #: how many times it was started
        self.starts = 0

    def start(self) -> WorkerProcess:
        if self.alive:
            raise RuntimeError("worker pid %d is running" % self.proc.pid)
        log = open(self.log, "a")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "share_worker.cmd.worker",
                 "--config-file", self.config],
                cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the worker was never started")
        return self.proc.pid

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass                               # the group is gone

    def kill(self) -> None:
        """kill -9 (its engine processes too), and reap it."""
        if self.proc is None:
            return
        if self.alive:
            self._signal_group(signal.SIGCONT)   # a paused one too
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def pause(self) -> None:
        """SIGSTOP: it stalls mid-whatever (a stalled lease owner), its
        engine processes with it."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def term(self, timeout: float = 30.0) -> float:
        """SIGTERM; seconds until it exited (killed after *timeout*,
        then ``TimeoutError``)."""
        if not self.alive:
            raise RuntimeError("the worker is not running")
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError("the worker did not stop within %.0f s of "
                               "SIGTERM" % timeout) from None
        return time.monotonic() - started

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def log_text(self) -> str:
        try:
            return pathlib.Path(self.log).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
