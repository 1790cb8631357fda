"""How a new operation gets in: back-pressure (``max_in_flight``, Busy;
``max_in_flight_per_project``, QuotaExceeded) and its durable
recording, shared with concurrent requests (group commit)::

    admission = Admission(ops, limit=lambda: 10000, commit_delay=0.002,
                          project_limit=lambda: 5000)
    admission.start()                       # counts what is in flight
    admission.reserve("p1")                 # or Busy, or QuotaExceeded
    pending = admission.record_later(Acceptance(...), on_created)
    record, created = admission.wait(pending)   # or the RPC server goes on
    admission.release(finished)             # operations that ended
    admission.stop()                        # commits what was submitted

The count of operations in flight is kept in memory; the store is
counted again only when the limit is reached (other workers may have
finished some). Per project the same: a project's count grows with each
of its accepts here and is counted again in the store when it reaches
the project limit or is older than :data:`PROJECT_RECOUNT` seconds, so
a busy project costs at most one count query per ``limit - in flight``
accepts or per ``PROJECT_RECOUNT`` s. With one worker the quota is
exact; with several, each sees the others' accepts at its next count,
so a project can briefly exceed its quota by what the other workers
accepted for it within the last ``PROJECT_RECOUNT`` s.

The committer writes on a connection of its own, and logs one line per
transaction naming what it recorded (each item's ``summary``): a log
record per request costs as much as its insert.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

from share_worker import exception
from share_worker.db.acceptance import Acceptance
from share_worker.db.operations import Operation, OperationStore
from share_worker.db.store import Writer
from share_worker.engine.committer import GroupCommitter
from share_worker.pending import Pending, resolve

LOG = logging.getLogger(__name__)

#: longest an RPC handler waits for the store to commit its record
COMMIT_TIMEOUT = 120.0
#: most records named in one log line
LOG_CHUNK = 32
#: projects whose in-flight count is kept in memory
_PROJECTS_KEPT = 10000
#: seconds a project's remembered count is trusted before it is counted
#: in the store again (other workers' accepts, finished operations)
PROJECT_RECOUNT = 5.0


class Admission:
    """The in-flight count and the accept committer of one engine."""

    def __init__(self, ops: OperationStore, limit: Callable[[], int],
                 commit_delay: float = 0.0,
                 project_limit: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ops = ops
        self._clock = clock
        self._limit = limit
        self._project_limit = project_limit
        self._lock = threading.Lock()
        self.in_flight = 0
        #: per project: (at least its operations in flight, when they were
        #: counted in the store)
        self._projects: dict[str, tuple[int, float]] = {}
        self._writer = Writer(ops.store)
        #: new records of concurrent requests share one transaction
        self.committer = GroupCommitter(self._write, name="accept",
                                        delay=commit_delay)

    def start(self) -> None:
        self.in_flight = self._ops.count_unfinished()
        self.committer.start()

    def stop(self, timeout: float = 60.0) -> None:
        self.committer.stop(timeout)
        try:
            self._writer.close()
        except Exception as e:  # noqa: BLE001 - a dead connection
            LOG.debug("Closing the accept connection failed: %s", e)

    def _write(self, items: list[Acceptance]) -> list:
        results = self._ops.accept_many(items, self._writer)
        new = [item.summary for item, result in zip(items, results,
                                                    strict=True)
               if isinstance(result, tuple) and result[1]]
        for first in range(0, len(new), LOG_CHUNK):
            chunk = new[first:first + LOG_CHUNK]
            LOG.info("Recorded %d: %s", len(chunk), "; ".join(chunk))
        return results

    def reserve(self, project_id: str | None = None) -> None:
        """Count one more operation in flight (of *project_id*), or raise
        Busy (the worker is full) or QuotaExceeded (the project is)."""
        limit = self._limit()
        with self._lock:
            if self.in_flight >= limit:
                # Other workers may have finished some: count again.
                self.in_flight = self._ops.count_unfinished()
            if self.in_flight >= limit:
                raise exception.Busy(in_flight=self.in_flight, limit=limit)
            if project_id is not None and self._project_limit is not None:
                self._reserve_for(project_id, self._project_limit())
            self.in_flight += 1

    def _reserve_for(self, project_id: str, limit: int) -> None:
        count, counted = self._projects.get(project_id, (None, 0.0))
        now = self._clock()
        if count is None or count >= limit \
                or now - counted >= PROJECT_RECOUNT:
            count, counted = self._ops.count_unfinished(project_id), now
        if count >= limit:
            self._projects[project_id] = (count, counted)
            raise exception.QuotaExceeded(
                "project %s has %d operations in flight "
                "(max_in_flight_per_project=%d); retry once some finish"
                % (project_id, count, limit))
        self._projects.pop(project_id, None)      # the newest last
        self._projects[project_id] = (count + 1, counted)
        if len(self._projects) > _PROJECTS_KEPT:
            # forget the oldest: it is counted in the store when next seen
            self._projects.pop(next(iter(self._projects)))

    def release(self, count: int = 1) -> None:
        with self._lock:
            self.in_flight = max(0, self.in_flight - count)

    def record_later(self, item: Acceptance,
                     on_created: Callable[[Operation], None]) -> Pending:
        """Commit *item* (reserved before): the pending (record,
        created), there once it is in the store.

        Once the commit ends, even if a wait for it gave up before, a
        new operation goes to *on_created* and anything else gives its
        reservation back."""
        future = self.committer.submit(item)
        future.add_done_callback(functools.partial(
            self._committed, item.op, on_created))
        return Pending(future, _result,
                       "%s %s" % (item.kind, item.record["id"]))

    @staticmethod
    def wait(value: Any) -> Any:
        """The result of *value* (a record, or one pending on its
        commit), waited for at most :data:`COMMIT_TIMEOUT` seconds."""
        try:
            return resolve(value, timeout=COMMIT_TIMEOUT)
        except futures.TimeoutError:
            raise exception.InvalidState(
                reason="the store did not record %s within %.0f s; it "
                       "may still be: look it up before trying again" % (
                           value.about, COMMIT_TIMEOUT)) from None

    def _committed(self, op: Operation,
                   on_created: Callable[[Operation], None],
                   future: futures.Future) -> None:
        if future.exception() is None and future.result()[1]:
            on_created(op)
        else:
            self.release()


def _result(future: futures.Future) -> Any:
    return future.result()
