"""The scheduler thread: fires the protection policies' due ticks and
applies their retention::

    scheduler = Scheduler(engine, conf)
    scheduler.start()            # a thread; every scheduler_interval s
    scheduler.run_once()         # what one cycle does (tests call it)
    scheduler.prune_once()       # one retention pass
    scheduler.prune_landed()     # retention of policies whose new
                                 # checkpoint just became available
    scheduler.stop()

Retention runs for a policy as soon as one of its checkpoints becomes
available (seen in the store within :data:`LANDED_CHECK` seconds, by any
worker or engine process), and over every policy each
``retention_interval`` as a backstop.

A tick fires once across any number of workers sharing the store: each
claims it by compare-and-swap on the policy's ``next_run_at``, and only
the worker whose update matched runs it. The claimed tick stays pending
until its checkpoints are recorded; if that worker dies, another takes
the tick over after ``lease_seconds`` and, the tick's checkpoint ids
being derived from it, finds what was already made.
"""

from __future__ import annotations

import collections
import datetime
import logging
import threading
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from share_worker import exception
from share_worker.db.store import isotime, utcnow
from share_worker.scheduler import retention, schedule

LOG = logging.getLogger(__name__)
#: due policies read per query; a cycle goes on until none is left
_BATCH = 100
#: seconds between two looks for checkpoints that became available
LANDED_CHECK = 0.5
#: how far back each look reaches beyond the previous one: a checkpoint
#: committed late with an earlier updated_at (or by a worker whose clock
#: is behind) is still seen; a policy pruned twice loses nothing
_LANDED_OVERLAP = datetime.timedelta(seconds=2)


class Scheduler:
    """Policies' scheduled runs and retention, on one thread."""

    def __init__(self, engine: Any, conf: cfg.ConfigOpts,
                 clock: Callable[[], datetime.datetime] = utcnow) -> None:
        self.engine = engine
        self._conf = conf.share_worker
        self._clock = clock
        self._stop = threading.Event()
        #: set to end a pause early: stop, or a policy created or changed
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        engine.policy_watchers.append(self._wake.set)
        self._last_prune: datetime.datetime | None = None
        #: the store was last looked at for landed checkpoints up to here
        self._landed_from: datetime.datetime | None = None
        #: how many ticks this scheduler fired, and the latest of them as
        #: (policy id, tick) pairs
        self.fired = 0
        self.recent: collections.deque = collections.deque(maxlen=1000)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop,
                                        name="share_worker-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                LOG.warning("The scheduler did not stop within %.1f s",
                            timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._pause())
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
                now = self._clock()
                if self._last_prune is None or (
                        now - self._last_prune).total_seconds() >= \
                        self._conf.retention_interval:
                    self._last_prune = self._landed_from = now
                    self.prune_once()
                else:
                    self.prune_landed()
            except Exception:
                LOG.exception("Scheduler cycle failed; next cycle in %.1f s",
                              self._conf.scheduler_interval)

    def _pause(self) -> float:
        """Seconds to the next due tick or pending lease, at most
        scheduler_interval (policies other workers create are seen
        within that) and LANDED_CHECK (landed checkpoints)."""
        longest = min(self._conf.scheduler_interval, LANDED_CHECK)
        try:
            soonest = self.engine.policies.soonest()
        except Exception:
            LOG.exception("Could not read the next scheduled run")
            return longest
        if soonest is None:
            return longest
        wait = (soonest - self._clock()).total_seconds()
        return min(longest, max(0.0, wait))

    # -- ticks --

    def _lease(self, now: datetime.datetime) -> datetime.datetime:
        return now + datetime.timedelta(seconds=self._conf.lease_seconds)

    def run_once(self) -> int:
        """Fire every due tick this worker claims; how many fired."""
        fired = 0
        while not self._stop.is_set():
            batch = self.engine.policies.due(self._clock(), _BATCH)
            fired += sum(self._run_due(row) for row in batch)
            if len(batch) < _BATCH:
                break
        self.fired += fired
        return fired

    def _run_due(self, row: Any) -> int:
        """Claim and fire one due policy's tick; 1 if it fired."""
        policies = self.engine.policies
        now = self._clock()
        if row.pending_tick is not None:
            if not policies.take_over_tick(row, now, self._lease(now)):
                return 0           # another worker took it over
            LOG.info("Policy %s: taking over run %s left unfinished",
                     row.id, isotime(row.pending_tick))
            return self._fire(row, row.pending_tick)
        due, new_next = self._plan(row, now)
        if not policies.claim_tick(row, new_next, due, self._lease(now)):
            return 0               # another worker has it
        if due is None:
            LOG.warning("Policy %s: runs since %s missed by more than "
                        "%d s; skipped, next run %s", row.id,
                        isotime(row.next_run_at),
                        self._conf.scheduler_catchup_window,
                        isotime(new_next))
            return 0
        return self._fire(row, due)

    def _plan(self, row: Any, now: datetime.datetime) -> tuple:
        """(tick to run or None, next_run_at to store); see
        :func:`schedule.plan_tick`."""
        window = datetime.timedelta(
            seconds=self._conf.scheduler_catchup_window)
        return schedule.plan_tick(row.schedule, row.next_run_at, now, window,
                                  anchor=row.created_at)

    def _fire(self, row: Any, tick: datetime.datetime) -> int:
        key = isotime(tick)
        self.recent.append((row.id, key))
        try:
            ctx = self.engine.actor.context(row)
            made = self.engine.run_policy(row, ctx, "schedule", key)
        except exception.Busy as e:
            LOG.warning("Policy %s: run %s postponed: %s", row.id, key, e)
            return 0
        except exception.ShareWorkerError as e:
            LOG.error("Policy %s: run %s failed: %s", row.id, key, e)
            made = []
        LOG.info("Policy %s: run %s recorded %d checkpoint(s)", row.id, key,
                 len(made))
        self.engine.policies.finish_tick(row.id, tick)
        return 1

    # -- retention --

    def prune_landed(self) -> int:
        """Retention of the policies with a checkpoint that became
        available since the last look; how many checkpoints it let go."""
        now = self._clock()
        since = (self._landed_from or now) - _LANDED_OVERLAP
        self._landed_from = now
        landed = self.engine.policies.landed_since(since)
        return self.prune_once(only=landed) if landed else 0

    def prune_once(self, only: set[str] | None = None) -> int:
        """Delete the checkpoints retention lets go (of the policies
        *only* names, default all); how many."""
        policies = self.engine.policies
        now = self._clock()
        pruned = 0
        for row in policies.with_retention():
            if only is not None and row.id not in only:
                continue
            by_share: dict[str, list[dict]] = collections.defaultdict(list)
            for cp in policies.checkpoints_of(row.id):
                by_share[cp.resource_id].append(
                    {"id": cp.id, "status": cp.status,
                     "created_at": cp.created_at})
            doomed = [cid for group in by_share.values()
                      for cid in retention.to_prune(group, row.retention,
                                                    now)]
            # A checkpoint being restored from stays until the restore
            # ends (a later pass prunes it); none other goes instead.
            in_use = policies.restoring(doomed)
            if in_use:
                LOG.info("Policy %s: checkpoint(s) %s kept for now: a "
                         "restore is in progress", row.id,
                         ", ".join(sorted(in_use)))
            doomed = [cid for cid in doomed if cid not in in_use]
            if doomed:
                pruned += self._prune(row, doomed)
        return pruned

    def _prune(self, row: Any, doomed: list[str]) -> int:
        try:
            ctx = self.engine.actor.context(row)
        except exception.ShareWorkerError as e:
            LOG.error("Policy %s: retention can't act as the owner: %s",
                      row.id, e)
            return 0
        pruned = 0
        for cid in doomed:
            try:
                cp = self.engine.delete(ctx, cid)
            except exception.Busy as e:
                LOG.warning("Policy %s: retention postponed: %s", row.id, e)
                break
            except exception.ShareWorkerError as e:
                LOG.warning("Policy %s: checkpoint %s not pruned: %s",
                            row.id, cid, e)
                continue
            LOG.info("Policy %s: retention deletes checkpoint %s (%s)",
                     row.id, cid, cp["status"])
            pruned += 1
        return pruned
