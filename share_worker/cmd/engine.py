"""``python -m share_worker.cmd.engine``: one engine process.

``share-worker`` starts these itself when ``[share_worker]
engine_processes`` > 0, with its own arguments::

    python -m share_worker.cmd.engine --config-file share_worker.conf

It advances the operations in the store (leases keep processes from
doing the same work) and records their status events, which the
``share-worker`` process publishes (with PostgreSQL the engine
processes do, one at a time; see ``service.engines_publish``); it stops
on SIGTERM, or when the worker that started it is gone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence

from oslo_config import cfg
from oslo_log import log as logging

from share_worker import exception, service, supervisor
from share_worker.cmd import worker

LOG = logging.getLogger(__name__)

#: seconds between two looks for new operations
_CLAIM_INTERVAL = 0.2


def engine_priority(conf: cfg.ConfigOpts) -> str:
    """``engine_priority``, except that a SQLite store gets ``low`` for
    ``idle``: its one write lock is shared with the process that records
    requests, and an idle-priority engine holding it on a busy host would
    stall every request behind it."""
    priority = conf.share_worker.engine_priority
    if priority == "idle" and service.database_url(conf).startswith(
            "sqlite"):
        LOG.info("engine_priority = idle needs a PostgreSQL store; with "
                 "SQLite the engine process runs engine_nice = %d lower "
                 "instead", conf.share_worker.engine_nice)
        return "low"
    return priority


def lower_priority(priority: str, nice: int) -> None:
    """Yield the CPU to the worker that records requests
    (``engine_priority``; before any thread starts, as threads inherit
    it)."""
    if priority == "normal":
        return
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except (AttributeError, OSError) as e:
            LOG.warning("engine_priority = idle: SCHED_IDLE is not "
                        "available here (%s); lowering the priority by "
                        "engine_nice = %d instead", e, nice)
    if nice:
        try:
            os.nice(nice)
        except OSError as e:
            LOG.warning("Could not lower the engine process's priority "
                        "(engine_nice = %d): %s", nice, e)


def _tell_ready() -> None:
    """Tell the worker that started this process that its engine runs
    (supervisor.READY_FD)."""
    fd = os.environ.pop(supervisor.READY_FD, None)
    if fd is None:
        return
    try:
        os.write(int(fd), b"ready\n")
        os.close(int(fd))
    except (OSError, ValueError) as e:
        LOG.warning("Could not tell the worker this engine runs: %s", e)


def main(argv: Sequence[str] | None = None) -> int:
    conf = worker.prepare(argv)
    lower_priority(engine_priority(conf), conf.share_worker.engine_nice)
    try:
        engine = service.build_engine_process(conf)
    except (exception.ConfigurationError, exception.PluginLoadError) as e:
        LOG.error("%s", e)
        return 2
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    parent = os.getppid()
    engine.start(publish=service.engines_publish(conf),
                 claim_interval=min(conf.share_worker.poll_interval,
                                    _CLAIM_INTERVAL),
                 event_interval=service.ENGINE_EVENTS_LOOK)
    _tell_ready()
    while not stopping.wait(1.0):
        if os.getppid() != parent:
            LOG.error("The worker that started this engine is gone; "
                      "stopping")
            break
    engine.stop()
    engine.store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
