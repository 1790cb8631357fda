"""The reconciler: one thread that advances every leased operation.

No thread waits for Manila on behalf of an operation. Each cycle the
reconciler applies finished steps in one transaction, hands due steps
(one Manila call each) to a small pool, and sends one batched status poll
per (project, kind) to the same pool::

    rec = Reconciler(op_store, registry, runner, clients, conf, owner,
                     clock)
    rec.start()
    rec.submit(op)          # an operation this process just accepted
    rec.stop()              # leases released: another worker resumes

Operations are leased in the store, so several workers share one store and
a crashed worker's operations are taken over once its lease expires.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

from oslo_config import cfg

from share_worker import exception
from share_worker.db.operations import Advance, Operation, OperationStore
from share_worker.engine import poller
from share_worker.engine.committer import GroupCommitter
from share_worker.engine.poll_schedule import PollSchedule
from share_worker.engine.steps import LEASE_LOST, StepRunner

LOG = logging.getLogger(__name__)

#: threads polling statuses (one list per project and kind at a time; a
#: second one when a poll is slow)
_POLL_THREADS = 2
#: longest a Manila change waits for its lease check to commit; then it
#: is not made (LeaseLost)
_FENCE_TIMEOUT = 30.0
#: longest a step or poll waits for a write of the reconciler to end
_TURN_WAIT = 1.0
#: steps and polls wait for the reconciler's writes only while requests
#: come in: until this many seconds after new operations were last
#: handed over or claimed (then the store's write lock is wanted by the
#: accepts too; otherwise waiting only slows the steps down)
_INTAKE_QUIET = 1.0
#: a lease check made when a step is handed to the pool serves the step's
#: first change in Manila if that comes within this share of a lease
#: (the store holds the operation a lease and a Manila call longer, so
#: the call has all of its HTTP timeout); a later change checks again
_PREFENCE_SHARE = 1 / 3



class Reconciler:
    """Drives operations to a terminal status; see the module docstring."""

    def __init__(self, ops: OperationStore, registry: Any,
                 runner: StepRunner, clients: Any, conf: cfg.ConfigOpts,
                 owner: str, clock: Callable[[], datetime.datetime],
                 on_applied: Callable[[int], None] | None = None) -> None:
        self._store = ops
        self._registry = registry
        self._runner = runner
        self._clients = clients
        self._conf = conf.share_worker
        self._owner = owner
        self._clock = clock
        self._on_applied = on_applied or (lambda finished: None)
        self._held: dict[str, Operation] = {}
        #: operations this reconciler brought to a terminal status
        self.finished = 0
        #: seconds between two looks for unleased or abandoned operations
        self.claim_interval = max(self._conf.poll_interval, 1.0)
        self._resumed: set[str] = set()
        self._busy: set[str] = set()
        #: operations whose step (a Manila call) runs in the pool now
        self._acting: set[str] = set()
        self._ready: collections.deque[str] = collections.deque()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewer: threading.Thread | None = None
        #: set to renew now (the reconciler found its leases lapsed)
        self._renew_due = threading.Event()
        self._pool = futures.ThreadPoolExecutor(
            max_workers=self._conf.manila_workers,
            thread_name_prefix="manila")
        #: status polls on threads of their own: a poll never waits
        #: behind a burst of creates in the pool above (a snapshot ready
        #: in 0.2 s was seen only once every create had been made)
        self._polls = futures.ThreadPoolExecutor(
            max_workers=_POLL_THREADS, thread_name_prefix="manila-poll")
        self._next_scan = self._next_claim = clock()
        #: when to look at each object waited on (learnt per kind), and
        #: when each (project, kind, status) group was last polled
        floor = min(self._conf.poll_min_interval, self._conf.poll_interval)
        self._looks = PollSchedule(floor, self._conf.poll_interval)
        self._polled: dict[tuple, float] = {}
        #: until when this worker's leases are sure to hold (the last
        #: renewal that reached the store, plus lease_seconds)
        self._leases_hold_until = clock() + datetime.timedelta(
            seconds=self._conf.lease_seconds)
        #: a Manila call holds its operation this much longer than a
        #: lease: it may take its whole HTTP timeout
        self._call_hold = datetime.timedelta(
            seconds=self._conf.lease_seconds + float(
                conf.manila_client.timeout or 60))
        #: the store failed since (one warning per outage)
        self._store_down = False
        #: clear while the reconciler writes to the store as requests
        #: come in: steps and polls wait to begin, so the writing thread
        #: is not left waiting for the GIL behind them while it holds the
        #: store's write lock (SQLite: the lock the process recording
        #: requests waits for)
        self._store_free = threading.Event()
        self._store_free.set()
        #: when new operations last came in (monotonic seconds)
        self._intake_at = float("-inf")
        #: concurrent fences (one per Manila change, from every pool
        #: thread) share a transaction; each operation's lease is still
        #: checked by the store, row by row
        self._fences = GroupCommitter(self._store.fence_many, name="fence")
        runner.fence = self.fence
        #: steps due this cycle, handed to the pool together once their
        #: lease checks are committed in one transaction
        self._to_act: list[Operation] = []
        #: operation id -> (the Operation, when its lease was checked at
        #: dispatch): spent by the step's first change in Manila
        self._prefenced: dict[str, tuple[Operation, datetime.datetime]] = {}
        self._prefence_for = datetime.timedelta(
            seconds=self._conf.lease_seconds * _PREFENCE_SHARE)

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        self._fences.start()
        self._thread = threading.Thread(target=self._run, name="reconciler",
                                        daemon=True)
        self._thread.start()
        # Leases are renewed on a thread of their own: a long cycle (a
        # big batch of results, a slow store) must not let them lapse.
        self._renewer = threading.Thread(target=self._renew_loop,
                                         name="leases", daemon=True)
        self._renewer.start()

    def stop(self, release: bool = True, timeout: float = 30.0) -> None:
        """Stop within *timeout* seconds. Leases are given back, except
        those of operations whose Manila call is still running: they
        lapse, so whoever takes one over looks first for what the call
        made (its tag)."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        self._renew_due.set()
        for thread in (self._thread, self._renewer):
            if thread is not None:
                thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._polls.shutdown(wait=False, cancel_futures=True)
        while self._acting and time.monotonic() < deadline:
            self._wake.wait(0.05)
            self._wake.clear()
        # a call still running fences in its own thread from now on
        self._fences.stop(timeout=max(0.1, deadline - time.monotonic()))
        try:
            self._drain_results()
        except Exception as e:  # noqa: BLE001 - the next owner redoes them
            LOG.warning("Could not record the last steps: %s", e)
        with self._lock:
            running = set(self._acting)
        if running:
            LOG.warning("%d operation(s) still in a Manila call at stop; "
                        "their leases lapse in %d s", len(running),
                        self._conf.lease_seconds)
        if release:
            try:
                self._store.release(self._owner, keep=running)
            except Exception as e:  # noqa: BLE001 - the leases lapse
                LOG.warning("Could not give the leases back (%s); they "
                            "lapse in %d s", e, self._conf.lease_seconds)

    def submit(self, op: Operation) -> None:
        """Take over an operation this process accepted (already leased)."""
        with self._lock:
            if op.id in self._held:
                return
            self._held[op.id] = op
            self._ready.append(op.id)
            self._intake_at = time.monotonic()
        self._wake.set()

    @property
    def held(self) -> int:
        return len(self._held)

    # -- the loop -----------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._cycle()
            except exception.StoreUnavailable as e:
                if not self._store_down:
                    LOG.warning("Reconciler: the store is unreachable (%s); "
                                "no Manila change is made until it answers",
                                e.message)
                self._store_down = True
                self._stopping.wait(self._conf.poll_interval)
            except Exception:
                LOG.exception("Reconciler cycle failed; retrying")
                self._stopping.wait(self._conf.poll_interval)
            else:
                if self._store_down:
                    LOG.info("Reconciler: the store answers again")
                self._store_down = False
            self._wake.wait(timeout=self._cycle_pause())
            self._wake.clear()

    def _cycle_pause(self) -> float:
        """Seconds the loop sleeps unless woken: to the next scan or
        claim, at most half a poll_interval."""
        left = (min(self._next_scan, self._next_claim)
                - self._clock()).total_seconds()
        return min(self._conf.poll_interval / 2, max(0.01, left))

    @contextlib.contextmanager
    def _store_turn(self) -> Iterator[None]:
        """Around the reconciler's writes to the store: while requests
        come in (:data:`_INTAKE_QUIET`), no step or poll begins
        meanwhile."""
        if time.monotonic() - self._intake_at >= _INTAKE_QUIET:
            yield
            return
        self._store_free.clear()
        try:
            yield
        finally:
            self._store_free.set()

    def fence(self, op: Operation) -> None:
        """Raise LeaseLost unless *op* is still this worker's; hold it
        for the length of one Manila call (StepRunner calls this before
        every change in Manila)."""
        now = self._clock()
        with self._lock:
            # A step of an operation let go of (and maybe taken back
            # since, by a new holding) is no longer this worker's.
            held = self._held.get(op.id) is op
            checked = self._prefenced.pop(op.id, None)
        fresh = checked is not None and checked[0] is op and \
            now < checked[1] + self._prefence_for
        if not held or now >= self._leases_hold_until or not (
                fresh or self._fenced(op, now)):
            raise exception.LeaseLost(what="%s %s" % (op.record_kind,
                                                      op.record_id))

    def _fenced(self, op: Operation, now: datetime.datetime) -> bool:
        """Whether the store still has *op* leased to this worker (then
        held for one more call); a fence not committed in time is no."""
        future = self._fences.submit((op.id, self._owner, now,
                                      now + self._call_hold))
        try:
            return future.result(timeout=_FENCE_TIMEOUT)
        except futures.TimeoutError:
            LOG.warning("Reconciler: the lease of %s %s could not be "
                        "checked within %.0f s", op.record_kind,
                        op.record_id, _FENCE_TIMEOUT)
            return False

    def _renew_loop(self) -> None:
        lease = datetime.timedelta(seconds=self._conf.lease_seconds)
        down = False
        while not self._stopping.is_set():
            try:
                self._renew(self._clock(), lease)
            except exception.StoreUnavailable as e:
                if not down:
                    LOG.warning("Reconciler: leases could not be renewed "
                                "(%s)", e.message)
                down = True
                self._stopping.wait(1.0)
                continue
            except Exception:
                LOG.exception("Reconciler: renewing the leases failed")
                self._stopping.wait(1.0)
                continue
            down = False
            self._wake.set()          # the reconciler may go on now
            self._renew_due.wait(lease.total_seconds() / 3)
            self._renew_due.clear()

    def _renew(self, now: datetime.datetime,
               lease: datetime.timedelta) -> None:
        """Renew every lease; let go of the operations whose lease was
        not renewed (another worker took them, or they lapsed)."""
        with self._lock:
            before = set(self._held)
        try:
            kept = self._store.renew(self._owner, now, now + lease, before)
        except exception.StoreUnavailable:
            if now >= self._leases_hold_until and self._held:
                LOG.warning("Reconciler: leases could not be renewed for "
                            "%d s; letting go of %d operation(s) (taken "
                            "over once the store answers)",
                            self._conf.lease_seconds, len(self._held))
                self._let_go(set(self._held))
            raise
        self._leases_hold_until = now + lease
        lost = before - kept
        if lost:
            LOG.warning("Reconciler: %d lease(s) not renewed (taken over "
                        "or lapsed); letting go of them", len(lost))
            self._let_go(lost)

    def _let_go(self, op_ids: set[str]) -> None:
        with self._lock:
            for op_id in op_ids:
                self._held.pop(op_id, None)
                self._resumed.discard(op_id)
                self._looks.forget(op_id)

    def _cycle(self) -> None:
        self._drain_results()
        now = self._clock()
        lease = datetime.timedelta(seconds=self._conf.lease_seconds)
        if now >= self._leases_hold_until:
            self._renew_due.set()
            return          # no change in Manila without a lease
        if now >= self._next_claim:
            self._claim(now, now + lease)
            self._next_claim = now + datetime.timedelta(
                seconds=self.claim_interval)
        with self._lock:
            ready = list(self._ready)
            self._ready.clear()
        for op_id in ready:
            op = self._held.get(op_id)
            if op is not None and op_id not in self._busy and \
                    not op.state.get("wait") and op.not_before <= now:
                self._dispatch_act(op)
        if now >= self._next_scan:
            self._scan(now)
            self._next_scan = now + datetime.timedelta(
                seconds=self._scan_pause(now))
        self._hand_out()

    def _scan_pause(self, now: datetime.datetime) -> float:
        """Seconds to the next scan: the next look due, between
        poll_min_interval and poll_interval."""
        due = self._looks.next_due()
        pause = self._conf.poll_interval
        if due is not None:
            pause = min(pause, max(self._looks.floor, _until(due, now)))
        return pause

    def _claim(self, now: datetime.datetime,
               until: datetime.datetime) -> None:
        room = self._conf.batch_size - len(self._held)
        if room <= 0:
            return
        with self._lock:
            exclude = set(self._held)
        with self._store_turn():
            claimed = self._store.claim(self._owner, now, until, room,
                                        exclude=exclude)
        if claimed:
            self._intake_at = time.monotonic()
        for op in claimed:
            if op.taken_over:
                LOG.info("%s %s: taking over %s at phase %s",
                         op.record_kind, op.record_id, op.kind, op.phase)
            with self._lock:
                if op.taken_over:
                    self._resumed.add(op.id)
                self._held[op.id] = op
                # acted on in this cycle, not at the next scan
                self._ready.append(op.id)

    def _scan(self, now: datetime.datetime) -> None:
        groups: dict[tuple, list[Operation]] = {}
        due: set[tuple] = set()
        ts = now.timestamp()
        for op in list(self._held.values()):
            if op.id in self._busy or op.not_before > now:
                continue
            if now >= op.deadline:
                self._looks.forget(op.id)
                self._dispatch(op, self._runner.timeout,
                               self._plugin_op(op), op)
            elif op.state.get("wait"):
                wait = op.state["wait"]
                key = (op.project_id, wait["kind"], wait.get("listed_as"))
                self._looks.started(op.id, _wait_kind(wait), ts)
                groups.setdefault(key, []).append(op)
                if self._looks.due(op.id, ts):
                    due.add(key)
            else:
                self._dispatch_act(op)
        for key, waiting in groups.items():
            # One list answers the whole group: poll it when one of them
            # is due, at most once per poll_min_interval.
            if key not in due or \
                    ts - self._polled.get(key, 0.0) < self._looks.floor:
                continue
            self._polled[key] = ts
            project_id, kind, listed_as = key
            self._busy.update(o.id for o in waiting)
            self._polls.submit(self._poll_group, project_id, kind, listed_as,
                              waiting)
        for key in set(self._polled) - set(groups):
            del self._polled[key]

    # -- work handed to the pool ------------------------------------------

    def _plugin_op(self, op: Operation) -> Any:
        plugin = self._registry.protection(op.resource_type)
        getter = {"protect": plugin.get_protect_operation,
                  "restore": plugin.get_restore_operation,
                  "delete": plugin.get_delete_operation}[op.kind]
        return getter({"type": op.resource_type})

    def _dispatch_act(self, op: Operation) -> None:
        """Hand *op*'s next step to the pool at the end of this cycle."""
        self._busy.add(op.id)
        self._to_act.append(op)

    def _hand_out(self) -> None:
        """Dispatch the steps due this cycle, their leases checked first
        in one statement (the store checks each row as :meth:`fence`
        does): a burst of new operations costs one commit, not one per
        step. A step whose check failed or could not be made checks
        again in its pool thread before it changes anything."""
        ops, self._to_act = self._to_act, []
        if not ops:
            return
        now = self._clock()
        if now < self._leases_hold_until:
            try:
                with self._store_turn():
                    held = self._store.fence_many(
                        [(op.id, self._owner, now, now + self._call_hold)
                         for op in ops])
            except Exception as e:  # noqa: BLE001 - each step checks again
                LOG.debug("Reconciler: checking %d lease(s) at dispatch "
                          "failed: %s", len(ops), e)
                held = [False] * len(ops)
            with self._lock:
                for op, ok in zip(ops, held, strict=True):
                    if ok:
                        self._prefenced[op.id] = (op, now)
        for op in ops:
            resumed = op.id in self._resumed
            self._resumed.discard(op.id)
            self._dispatch(op, self._runner.act, self._plugin_op(op), op,
                           resumed)

    def _dispatch(self, op: Operation, fn: Callable[..., Advance | None],
                  *args: Any) -> None:
        self._busy.add(op.id)

        def work() -> None:
            self._store_free.wait(_TURN_WAIT)
            with self._lock:
                self._acting.add(op.id)
            try:
                self._results.put((op, fn(*args)))
            except Exception:
                LOG.exception("%s %s: step failed", op.record_kind,
                              op.record_id)
                self._results.put((op, None))
            finally:
                with self._lock:
                    self._acting.discard(op.id)
            self._wake.set()

        self._pool.submit(work)

    def _poll_group(self, project_id: str, kind: str, listed_as: str | None,
                    waiting: list[Operation]) -> None:
        self._store_free.wait(_TURN_WAIT)
        try:
            client = self._clients.for_polling(project_id)
            wanted = {op.state["wait"]["id"] for op in waiting}
            statuses = poller.poll(client, kind, wanted, listed_as)
        except Exception as e:
            LOG.warning("Polling %ss of project %s failed: %s", kind,
                        project_id, e)
            for op in waiting:
                self._results.put((op, None))
            self._wake.set()
            return
        seen = self._clock().timestamp()
        for op in waiting:
            wait = op.state["wait"]
            observed = statuses.get(wait["id"])
            try:
                advance = self._runner.observe(self._plugin_op(op), op,
                                               observed)
            except Exception:
                LOG.exception("%s %s: observe failed", op.record_kind,
                              op.record_id)
                advance = None
            if advance is None or advance is LEASE_LOST or \
                    advance.op.state.get("wait") == wait:
                self._looks.looked(op.id, seen)
            else:
                self._looks.ended(op.id, seen)
            self._results.put((op, advance))
        self._wake.set()

    # -- results ------------------------------------------------------------

    def _drain_results(self) -> None:
        """Record the steps that ended, in one transaction. A result of
        an operation let go of meanwhile (its lease lapsed) is dropped,
        even if the operation was taken back since: the one held now
        redoes the step (its lookups find what the step made)."""
        done: list[tuple[Operation, Any]] = []
        while True:
            try:
                done.append(self._results.get_nowait())
            except queue.Empty:
                break
        if not done:
            return
        with self._lock:
            current = [(op, adv) for op, adv in done
                       if self._held.get(op.id) is op]
            for op, _ in done:      # a step that changed nothing
                self._prefenced.pop(op.id, None)
        for op, _ in done:
            self._busy.discard(op.id)
        advances = [adv for _, adv in current
                    if adv is not None and adv is not LEASE_LOST]
        lost: set[str] = {op.id for op, adv in current if adv is LEASE_LOST}
        if advances:
            try:
                now = self._clock()
                with self._store_turn():
                    lost |= set(self._store.apply(
                        self._owner, advances, now,
                        now + datetime.timedelta(
                            seconds=self._conf.lease_seconds)))
            except Exception:
                # Keep the results: the next cycle writes them again.
                for item in current:
                    self._busy.add(item[0].id)
                    self._results.put(item)
                raise
        finished = 0
        for op, adv in current:
            if op.id in lost or op.finished:
                self._let_go({op.id})
                finished += op.finished and op.id not in lost
                if op.id in lost:
                    LOG.warning("%s %s: the lease is another worker's now; "
                                "letting go of it", op.record_kind,
                                op.record_id)
            elif adv is not None and not op.state.get("wait"):
                with self._lock:
                    self._ready.append(op.id)
            elif adv is not None and not self._looks.known(op.id):
                # a wait began now: its first look may be due before the
                # next scan planned without it
                now = self._clock()
                due = self._looks.started(
                    op.id, _wait_kind(op.state["wait"]), now.timestamp())
                self._next_scan = min(self._next_scan, now + datetime.
                                      timedelta(seconds=_until(due, now)))
        if advances:
            self.finished += finished
            self._on_applied(finished)


def _until(due: float, now: datetime.datetime) -> float:
    """Seconds from *now* to *due* (a PollSchedule time), 0 if past."""
    return max(0.0, due - now.timestamp())


def _wait_kind(wait: dict) -> str:
    """What a wait's duration is learnt under: the object's kind and the
    status it leaves (a snapshot being created and one being deleted
    take different times)."""
    return "%s:%s" % (wait["kind"], wait.get("listed_as") or "new")
