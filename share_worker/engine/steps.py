"""Running one step of an operation and turning its result into an Advance.

The error policy lives here, once for every plugin: a retryable Manila
failure (5xx, connection) is retried with exponential backoff until
``retry_attempts`` or the deadline; any other error, or the deadline, hands
the operation to its ``fail()`` (which cleans up, then finishes)::

    runner = StepRunner(clients, conf, clock)
    advance = runner.act(plugin_op, op, resumed=False)
    advance = runner.observe(plugin_op, op, {"id": ..., "status": ...})
    advance = runner.timeout(plugin_op, op)
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import exception
from share_worker.db.operations import Advance, Operation, RecordChange
from share_worker.plugins import base

LOG = logging.getLogger(__name__)

#: op kind -> (status on success, status on failure, event prefix)
KINDS = {
    "protect": ("available", "error", "share_worker.checkpoint.protect"),
    "delete": ("deleted", "error-deleting", "share_worker.checkpoint.delete"),
    "restore": ("success", "fail", "share_worker.restore"),
}


def wait_state(wait: base.Wait) -> dict:
    """How a Wait is kept in an operation's state."""
    state = {"kind": wait.kind, "id": wait.id}
    if wait.listed_as:
        state["listed_as"] = wait.listed_as
    return state


#: what a step returns when the operation's lease is no longer this
#: worker's: the reconciler lets go of it
LEASE_LOST = object()


class EngineStep(base.StepContext):
    """The StepContext the engine hands to plugin operations."""

    def __init__(self, op: Operation, clients: Any, conf: cfg.ConfigOpts,
                 resumed: bool,
                 fence: Callable[[Operation], None] | None = None,
                 reveal: Callable[[str | None], str | None] | None = None
                 ) -> None:
        self._op = op
        self._reveal = reveal or (lambda stored: stored)
        self._clients = clients
        self._conf = conf
        self._fence = fence
        self.state = op.state
        self.record_id = op.record_id
        self.project_id = op.project_id
        self.created_at = op.created_at
        self.taken_over = resumed
        self.maybe_done = resumed or bool(op.state.get("maybe_done"))

    def fence(self) -> None:
        if self._fence is not None:
            self._fence(self._op)

    def client(self) -> Any:
        values = dict(self._op.context)
        # the caller's token, decrypted only for this call
        values["auth_token"] = self._reveal(self._op.auth_token)
        # overwrite=False: don't make this the pool thread's logging context
        ctx = o_context.RequestContext.from_dict(values, overwrite=False)
        return self._clients.for_context(ctx)

    def service_client(self) -> Any:
        return self._clients.for_service()

    def timeout(self, name: str) -> float:
        return float(self._conf.share_worker["%s_timeout" % name])


class StepRunner:
    """Runs plugin steps under the engine's retry and failure policy."""

    def __init__(self, clients: Any, conf: cfg.ConfigOpts,
                 clock: Callable[[], datetime.datetime],
                 fence: Callable[[Operation], None] | None = None,
                 reveal: Callable[[str | None], str | None] | None = None
                 ) -> None:
        """*fence(op)*: raises LeaseLost unless this worker still holds
        *op* (called before every change in Manila); *reveal(stored)*:
        an operation's caller token as stored, decrypted
        (:class:`share_worker.token_cipher.TokenCipher`)."""
        self._clients = clients
        self._reveal = reveal
        self._conf = conf
        self._clock = clock
        #: set by the reconciler that drives this runner
        self.fence = fence

    def _step(self, op: Operation, resumed: bool = False) -> EngineStep:
        return EngineStep(op, self._clients, self._conf, resumed,
                          self.fence, self._reveal)

    def act(self, plugin_op: base.Operation, op: Operation,
            resumed: bool) -> Any:
        step = self._step(op, resumed)
        return self._run(plugin_op, op, step,
                         lambda: plugin_op.act(op.phase, step), retry=True)

    def observe(self, plugin_op: base.Operation, op: Operation,
                observed: dict | None) -> Any:
        step = self._step(op)
        return self._run(plugin_op, op, step,
                         lambda: plugin_op.observe(op.phase, step, observed),
                         retry=False)

    def timeout(self, plugin_op: base.Operation, op: Operation) -> Any:
        step = self._step(op)
        wait = op.state.get("wait") or {}
        what = "%s of %s %s (phase %s%s)" % (
            op.kind, op.record_kind, op.record_id, op.phase,
            ", waiting on %s %s" % (wait["kind"], wait["id"]) if wait else "")
        err = exception.OperationTimeout(
            what=what.capitalize(), timeout=op.state.get("timeout", "?"))
        return self._guarded(lambda: self._fail(plugin_op, op, step, err),
                             op)

    def _guarded(self, fn: Callable[[], Any], op: Operation) -> Any:
        """*fn*, or LEASE_LOST / None (tried again later) when the lease
        is lost or can't be checked."""
        try:
            return fn()
        except exception.LeaseLost:
            LOG.warning("%s %s: the lease is no longer this worker's; "
                        "letting go of it", op.record_kind, op.record_id)
            return LEASE_LOST
        except exception.StoreUnavailable as e:
            LOG.warning("%s %s: the lease can't be checked (%s); tried "
                        "again later", op.record_kind, op.record_id,
                        e.message)
            return None

    # -- internals ----------------------------------------------------------

    def _run(self, plugin_op: base.Operation, op: Operation,
             step: EngineStep, fn: Callable[[], base.Transition | None],
             retry: bool) -> Any:
        return self._guarded(lambda: self._attempt(plugin_op, op, step, fn,
                                                   retry), op)

    def _attempt(self, plugin_op: base.Operation, op: Operation,
                 step: EngineStep,
                 fn: Callable[[], base.Transition | None],
                 retry: bool) -> Advance | None:
        now = self._clock()
        try:
            transition = fn()
        except (exception.LeaseLost, exception.StoreUnavailable):
            raise
        except exception.ManilaUnavailable as e:
            if retry and self._may_retry(op, now):
                op.attempt += 1
                delay = min(self._conf.share_worker.retry_backoff
                            * 2 ** (op.attempt - 1),
                            self._conf.share_worker.retry_backoff_max)
                op.not_before = now + datetime.timedelta(seconds=delay)
                op.state["maybe_done"] = True
                LOG.warning("%s %s: %s; retry %d in %.1fs", op.record_kind,
                            op.record_id, e.message, op.attempt, delay)
                return Advance(op)
            if not retry:
                # A failed poll is retried by the next poll cycle.
                LOG.warning("%s %s: %s", op.record_kind, op.record_id,
                            e.message)
                return None
            return self._fail(plugin_op, op, step, e)
        except exception.ShareWorkerError as e:
            return self._fail(plugin_op, op, step, e)
        except Exception as e:  # a plugin bug must not stall the engine
            LOG.exception("%s %s: unexpected error in phase %s",
                          op.record_kind, op.record_id, op.phase)
            return self._fail(plugin_op, op, step, exception.ShareWorkerError(
                "internal error in phase %s: %s: %s" % (
                    op.phase, type(e).__name__, e)))
        if transition is None:
            return None
        op.state.pop("maybe_done", None)
        return self.advance(op, transition, now)

    def _may_retry(self, op: Operation, now: datetime.datetime) -> bool:
        return (op.attempt < self._conf.share_worker.retry_attempts
                and now < op.deadline)

    def _fail(self, plugin_op: base.Operation, op: Operation,
              step: EngineStep, error: exception.ShareWorkerError) -> Advance:
        LOG.warning("%s %s: %s failed in phase %s: %s", op.record_kind,
                    op.record_id, op.kind, op.phase, error.message)
        op.state.setdefault("error", error.to_error())
        try:
            transition = plugin_op.fail(step, error)
        except (exception.LeaseLost, exception.StoreUnavailable):
            raise
        except Exception:
            LOG.exception("%s %s: fail() raised; finishing as failed",
                          op.record_kind, op.record_id)
            transition = base.Transition(
                outcome=base.Outcome(False, op.state["error"]))
        return self.advance(op, transition, self._clock())

    def advance(self, op: Operation, t: base.Transition,
                now: datetime.datetime) -> Advance:
        """Apply transition *t* to *op*; the record change to persist."""
        values = dict(t.record)
        events = []
        if t.outcome is not None:
            ok_status, fail_status, prefix = KINDS[op.kind]
            op.finished = True
            op.state.pop("wait", None)
            if t.outcome.success:
                values.update(status=ok_status, error=None)
                events.append((prefix + ".end", "INFO"))
            else:
                values.update(status=fail_status,
                              error=t.outcome.error or op.state.get("error"))
                events.append((prefix + ".error", "ERROR"))
            LOG.info("%s %s: %s finished: %s", op.record_kind, op.record_id,
                     op.kind, values["status"])
        else:
            op.phase = t.phase or op.phase
            if t.wait is not None:
                op.state["wait"] = wait_state(t.wait)
            else:
                op.state.pop("wait", None)
            if t.timeout is not None:
                op.deadline = now + datetime.timedelta(seconds=t.timeout)
                op.state["timeout"] = t.timeout
            op.attempt = 0
            op.not_before = now
        if not values and not events:
            return Advance(op)
        return Advance(op, RecordChange(values, events))
