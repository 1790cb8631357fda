"""Engine processes of ``share-worker`` when ``[share_worker]
engine_processes`` > 0: started with the worker's own command-line
arguments, restarted when one dies, stopped with SIGTERM::

    procs = EngineProcesses(conf, argv=["--config-file", "sw.conf"])
    procs.start()
    ...
    procs.stop()

Each runs ``python -m share_worker.cmd.engine`` and exits by itself if
the worker that started it goes away.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from oslo_config import cfg

LOG = logging.getLogger(__name__)

_STOP_GRACE = 60.0
_RESTART_DELAY = 1.0


class EngineProcesses:
    """Keeps ``engine_processes`` engine processes running."""

    def __init__(self, conf: cfg.ConfigOpts, argv: Sequence[str]) -> None:
        self._count = conf.share_worker.engine_processes
        self._argv = list(argv)
        self._procs: list[subprocess.Popen | None] = [None] * self._count
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self, index: int) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "share_worker.cmd.engine", *self._argv])
        LOG.info("Engine process %d started (pid %d)", index, proc.pid)
        self._procs[index] = proc

    def start(self) -> None:
        for index in range(self._count):
            self._spawn(index)
        self._thread = threading.Thread(target=self._watch,
                                        name="engine-processes", daemon=True)
        self._thread.start()

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

