"""Group commit: requests that arrive together share one transaction.

Each RPC handler hands its write to the committer and waits on its own
future; one thread takes everything queued (while the previous commit
ran), writes it in one transaction and resolves each future only after
the commit, so a handler still returns only once its record is in the
store (invariant 1). A request arriving when no commit runs is
committed at once in its own thread (no hand-over to the committer
thread and back), unless requests arrive together: less than *delay*
seconds after a commit that carried several of them. Then, and during a
commit, requests queue up, and after a commit with company the
committer thread waits *delay* for more of them before it writes the
queue in one transaction, like PostgreSQL's ``commit_delay`` (which
waits only when other transactions are active): fewer, larger
transactions cost less CPU per request than many small ones, and a lone
caller that waits for each of its requests never waits for company that
can't come::

    committer = GroupCommitter(ops.accept_many, name="accept", delay=0.002)
    committer.start()
    future = committer.submit(Acceptance(...))
    record, created = future.result(timeout=60)
    committer.stop()          # commits everything submitted before it

A batch that fails is retried one item at a time, so one bad request
fails alone and the others are still committed; ``write`` may also
answer an item with an exception instance, which that item's future
raises. After ``stop()`` (or
before ``start()``) ``submit`` writes in the caller's thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

LOG = logging.getLogger(__name__)

#: most items written in one transaction
MAX_BATCH = 256

_STOP = object()


class GroupCommitter:
    """Runs ``write(items) -> results`` for batches of submitted items
    on one thread; see the module docstring."""

    def __init__(self, write: Callable[[list], list], name: str = "commit",
                 max_batch: int = MAX_BATCH, delay: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._name = name
        self._max_batch = max_batch
        self._delay = delay
        self._clock = clock
        #: when the last commit ended (clock seconds), and how many
        #: requests it carried
        self._last_end = float("-inf")
        self._last_size = 0
        self._stopping = threading.Event()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        #: signalled when a commit ends
        self._idle = threading.Condition(self._lock)
        self._running = False
        #: commits in progress (the thread's and callers' own), and whether
        #: the thread holds a batch waiting for them to end
        self._busy = 0
        self._claiming = False
        self._thread: threading.Thread | None = None
        #: transactions committed, for tests and logs
        self.batches = 0

    def start(self) -> None:
        """Take requests; the committer thread starts with the first one
        that queues (a committer whose requests never meet, such as an
        engine process's, costs no thread)."""
        with self._lock:
            if self._running:
                return
            self._running = True
            self._stopping.clear()
            self._thread = None

    def stop(self, timeout: float = 60.0) -> None:
        """Commit what was submitted so far, then stop the thread."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._stopping.set()
            if self._thread is None:
                return          # nothing ever queued
            self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                LOG.error("The %s committer did not finish within %.0f s",
                          self._name, timeout)

    def submit(self, item: Any) -> futures.Future:
        """A future of *item*'s result, set once it is committed (or of
        the exception its write raised)."""
        future: futures.Future = futures.Future()
        with self._lock:
            if self._running and (self._busy or self._claiming
                                  or not self._queue.empty()
                                  or self._together()):
                self._queue.put((item, future))
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name=self._name, daemon=True)
                    self._thread.start()
                return future
            self._busy += 1
        try:
            self._commit_safely([(item, future)])
        finally:
            self._done(1)
        return future

    def _together(self) -> bool:
        """Whether requests arrive together (the last commit carried
        several, less than *delay* ago): then they wait for company."""
        return self._last_size > 1 and \
            self._clock() - self._last_end < self._delay

    def _done(self, size: int) -> None:
        with self._idle:
            self._busy -= 1
            self._last_end = self._clock()
            self._last_size = size
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is _STOP:
                return
            with self._lock:
                together = self._together()
            if together:          # under load: wait for company
                self._stopping.wait(self._delay)
            with self._idle:      # what queues up meanwhile joins in
                self._claiming = True       # callers queue up behind it
                while self._busy:
                    self._idle.wait()
                self._claiming = False
                self._busy += 1
            batch = [entry]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is _STOP:
                    stop = True
                    break
                batch.append(entry)
            try:
                self._commit_safely(batch)
            finally:
                self._done(len(batch))
            if stop:
                return

    def _commit_safely(self, batch: list[tuple[Any, futures.Future]]
                       ) -> None:
        try:
            self._commit(batch)
        except Exception:  # a bug: committing must go on
            LOG.exception("The %s committer failed a batch of %d",
                          self._name, len(batch))
            for _, future in batch:
                if not future.done():
                    _resolve(future, error=RuntimeError(
                        "the %s committer failed" % self._name))

    def _commit(self, batch: list[tuple[Any, futures.Future]]) -> None:
        try:
            results = self._write([item for item, _ in batch])
        except Exception as e:
            if len(batch) == 1:
                _resolve(batch[0][1], error=e)
                return
            LOG.warning("A %s batch of %d failed (%s); committing them one "
                        "at a time", self._name, len(batch), e)
            for entry in batch:
                self._commit([entry])
            return
        self.batches += 1
        for (_, future), result in zip(batch, results, strict=True):
            # an item refused inside a good batch: its own error
            if isinstance(result, BaseException):
                _resolve(future, error=result)
            else:
                _resolve(future, result=result)


def _resolve(future: futures.Future, result: Any = None,
             error: BaseException | None = None) -> None:
    """Set *future*; a failing done-callback is logged by the Future."""
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
