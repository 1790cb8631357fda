"""Engine processes of ``share-worker`` when ``[share_worker]
engine_processes`` > 0: started with the worker's own command-line
arguments, restarted when one dies, stopped with SIGTERM::

    procs = EngineProcesses(conf, argv=["--config-file", "sw.conf"])
    procs.start()
    procs.wait_ready(timeout=30)    # each one's engine runs
    ...
    procs.stop()

Each runs ``python -m share_worker.cmd.engine`` and exits by itself if
the worker that started it goes away. A process started by ``start()``
says when its engine runs (one line on the pipe named by
:data:`READY_FD`): the worker takes requests once its engines can run
them, not seconds before (an engine process takes a few seconds to
start on a busy machine).
"""

from __future__ import annotations

import logging
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from oslo_config import cfg

LOG = logging.getLogger(__name__)

_STOP_GRACE = 60.0
_RESTART_DELAY = 1.0

#: the environment variable naming the file descriptor an engine process
#: writes a line to once its engine runs
READY_FD = "SHARE_WORKER_READY_FD"


class EngineProcesses:
    """Keeps ``engine_processes`` engine processes running."""

    def __init__(self, conf: cfg.ConfigOpts, argv: Sequence[str]) -> None:
        self._count = conf.share_worker.engine_processes
        self._argv = list(argv)
        self._procs: list[subprocess.Popen | None] = [None] * self._count
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: read ends of the pipes of processes not yet ready
        self._ready_pipes: dict[int, int] = {}
        #: what an engine process runs (the worker's arguments follow)
        self.command = [sys.executable, "-m", "share_worker.cmd.engine"]

    def _spawn(self, index: int, tell_ready: bool = False) -> None:
        command = [*self.command, *self._argv]
        if not tell_ready:
            proc = subprocess.Popen(command)
        else:
            read, write = os.pipe()
            try:
                proc = subprocess.Popen(
                    command, pass_fds=(write,),
                    env=dict(os.environ, **{READY_FD: str(write)}))
            except BaseException:
                os.close(read)
                raise
            finally:
                os.close(write)
            self._ready_pipes[index] = read
        LOG.info("Engine process %d started (pid %d)", index, proc.pid)
        self._procs[index] = proc

    def start(self) -> None:
        for index in range(self._count):
            self._spawn(index, tell_ready=True)
        self._thread = threading.Thread(target=self._watch,
                                        name="engine-processes", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for the engines of the processes
        ``start()`` started to run; whether they all do (one that exits
        first is not waited for: it is restarted)."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for index, fd in self._ready_pipes.items():
                selector.register(fd, selectors.EVENT_READ, index)
            waiting = set(self._ready_pipes)
            exited = set()
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for key, _ in selector.select(left):
                    ready = os.read(key.fd, 64)
                    selector.unregister(key.fd)
                    waiting.discard(key.data)
                    if not ready:
                        exited.add(key.data)
                        LOG.warning("Engine process %d exited before its "
                                    "engine ran", key.data)
        for fd in self._ready_pipes.values():
            os.close(fd)
        self._ready_pipes = {}
        if waiting:
            LOG.warning("Engine process(es) %s not running after %.0f s; "
                        "taking requests anyway (they wait in the store)",
                        ", ".join(str(i) for i in sorted(waiting)), timeout)
        return not waiting and not exited

    def _watch(self) -> None:
        while not self._stopping.wait(_RESTART_DELAY):
            for index, proc in enumerate(self._procs):
                if proc is not None and proc.poll() is not None:
                    LOG.error("Engine process %d (pid %d) exited with %s; "
                              "restarting it", index, proc.pid,
                              proc.returncode)
                    self._spawn(index)

    def stop(self, timeout: float = _STOP_GRACE) -> None:
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=min(timeout, 2.0))
        for proc in self._procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for index, proc in enumerate(self._procs):
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.error("Engine process %d (pid %d) ignored SIGTERM; "
                          "killing it", index, proc.pid)
                proc.kill()
                proc.wait(timeout=10)

