"""The worker's purge of old deleted records (see :mod:`share_worker.db.
purge`), on a thread of its own, once an hour::

    purger = Purger(store, retention=lambda: 30 * 86400)
    purger.start()
    purger.run_once()      # what start() does each hour; the count purged
    purger.stop()

Each batch purged is one log line. ``retention`` 0 purges nothing.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable

from share_worker import exception
from share_worker.db.purge import purge_batch
from share_worker.db.store import Store, utcnow

LOG = logging.getLogger(__name__)

#: seconds between two purges, and before the first one
INTERVAL = 3600.0
FIRST_DELAY = 60.0
BATCH = 500


class Purger:
    def __init__(self, store: Store, retention: Callable[[], int],
                 clock: Callable[[], datetime.datetime] = utcnow,
                 interval: float = INTERVAL,
                 first_delay: float = FIRST_DELAY) -> None:
        self._store = store
        self._retention = retention
        self._clock = clock
        self._interval = interval
        self._first_delay = first_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="purge",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        wait = self._first_delay
        while not self._stop.wait(wait):
            wait = self._interval
            try:
                self.run_once()
            except exception.StoreUnavailable as e:
                LOG.warning("Purge skipped: %s", e)
            except Exception:  # noqa: BLE001 - the next hour tries again
                LOG.exception("Purge failed")

    def run_once(self) -> int:
        """Purge in batches until nothing is left; the records purged."""
        seconds = self._retention()
        if seconds <= 0:
            return 0
        before = self._clock() - datetime.timedelta(seconds=seconds)
        total = 0
        while not self._stop.is_set():
            purged = purge_batch(self._store, before, BATCH)
            if not purged:
                break
            total += purged.checkpoints + purged.restores + purged.operations
            LOG.info("Purged %d deleted checkpoints, %d of their restores "
                     "and %d finished operations older than %s",
                     purged.checkpoints, purged.restores, purged.operations,
                     before.isoformat(timespec="seconds"))
        return total
