"""The engine's public face: validate, record, hand over, return.

Nothing here waits on Manila: a protect is recorded (checkpoint +
operation + ``.start`` event in one transaction) and handed to the
reconciler, and the ``protecting`` checkpoint comes back::

    engine = Engine(conf, store, registry, clients)
    engine.start()
    cp = engine.protect(ctx, {"type": "OS::Manila::Share", "id": sid})
    engine.show_checkpoint(ctx, cp["id"])["status"]    # later: available
    engine.stop()
"""

from __future__ import annotations

import datetime
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import exception
from share_worker.clients.trusts import owner_actor
from share_worker.db.acceptance import Acceptance
from share_worker.db.operations import Operation, OperationStore
from share_worker.db.policies import PolicyStore
from share_worker.db.store import Store, utcnow
from share_worker.engine import validate
from share_worker.engine.admission import Admission
from share_worker.engine.ids import request_record_id
from share_worker.engine.outbox import EventSink, LoggingSink, Outbox
from share_worker.engine.policies import PolicyMethods
from share_worker.engine.purger import Purger
from share_worker.engine.queries import Queries
from share_worker.engine.reconciler import Reconciler
from share_worker.engine.rejected import rejected_event
from share_worker.engine.steps import KINDS, StepRunner
from share_worker.pending import Pending
from share_worker.token_cipher import TokenCipher

LOG = logging.getLogger(__name__)

DELETABLE = ("available", "error", "error-deleting")

_TIMEOUTS = {"protect": "protect_timeout", "restore": "restore_timeout",
             "delete": "delete_timeout"}


class Engine(Queries, PolicyMethods):
    """Durable protect / restore / delete, the read-only queries and the
    protection policies."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, registry: Any,
                 clients: Any, sink: EventSink | None = None,
                 clock: Callable[[], datetime.datetime] = utcnow,
                 owner: str | None = None, actor: Any = None) -> None:
        self._conf = conf
        self.store = store
        self.ops = OperationStore(store)
        self.policies = PolicyStore(store)
        #: who policies' automatic operations act as (see clients.trusts)
        self.actor = actor or owner_actor(
            conf, getattr(clients, "service_session", None))
        self.policy_watchers: list[Callable[[], None]] = []
        self.registry = registry
        self.clients = clients
        self._clock = clock
        self.owner = owner or "%s:%d:%s" % (conf.host, os.getpid(),
                                            uuid.uuid4().hex[:8])
        self.outbox = Outbox(self.ops, sink or LoggingSink())
        self.admission = Admission(
            self.ops, lambda: conf.share_worker.max_in_flight,
            commit_delay=conf.share_worker.commit_delay,
            project_limit=lambda: conf.share_worker.max_in_flight_per_project)
        #: callers' tokens are stored encrypted (see token_cipher)
        self.tokens = TokenCipher.from_conf(conf)
        runner = StepRunner(clients, conf, clock,
                            reveal=self.tokens.decrypt)
        self.reconciler = Reconciler(self.ops, registry, runner, clients,
                                     conf, self.owner, clock,
                                     on_applied=self._applied)
        self.purger = Purger(
            store, lambda: conf.share_worker.deleted_retention, clock)
        self._runs_operations = True
        self._publishes = True

    # -- life cycle ---------------------------------------------------------

    def start(self, run_operations: bool = True, publish: bool = True,
              claim_interval: float | None = None,
              event_interval: float | None = None) -> None:
        """Start accepting operations, and:

        - with *run_operations*, advance them (an engine process looks
          for those another process accepted every *claim_interval*
          seconds);
        - with *publish*, publish the status events of the store's
          outbox: its own at once, those other processes record within
          *event_interval* seconds.

        With engine processes, the share-worker process accepts and
        they advance; which of them publishes is
        ``service.engines_publish``."""
        self._runs_operations = run_operations
        self._publishes = publish
        if claim_interval is not None:
            self.reconciler.claim_interval = claim_interval
        if event_interval is not None:
            self.outbox.interval = event_interval
        self.admission.start()
        if publish:
            self.outbox.start()
        if run_operations:
            self.reconciler.start()
            self.purger.start()
        LOG.info("Engine %s started (%s); %d operations in flight in the "
                 "store", self.owner,
                 "accepts and runs" if run_operations else "accepts only",
                 self.admission.in_flight)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop within about *timeout* seconds; what is unfinished stays
        in the store."""
        deadline = time.monotonic() + timeout

        def left(share: float) -> float:
            return max(0.1, min(share * timeout,
                                deadline - time.monotonic()))

        # RPC handlers are done (the server stopped first): whatever they
        # submitted is committed before the engine stops.
        self.admission.stop(timeout=left(0.2))
        if self._runs_operations:
            self.purger.stop(timeout=left(0.1))
            self.reconciler.stop(timeout=left(0.5))
        if self._publishes:
            self.outbox.stop(timeout=left(1.0))
        LOG.info("Engine %s stopped", self.owner)

    def _applied(self, finished: int) -> None:
        if finished:
            self.admission.release(finished)
        self.outbox.poke()

    def _new_op(self, kind: str, ctx: o_context.RequestContext,
                record_id: str, resource_type: str, state: dict) -> Operation:
        now = self._clock()
        timeout = self._conf.share_worker[_TIMEOUTS[kind]]
        state["timeout"] = timeout
        op = Operation(
            id=uuid.uuid4().hex, kind=kind, record_id=record_id,
            project_id=ctx.project_id, resource_type=resource_type,
            phase="start", state=state, context=validate.storable(ctx),
            auth_token=self.tokens.encrypt(ctx.auth_token), attempt=0,
            not_before=now,
            deadline=now + datetime.timedelta(seconds=timeout),
            created_at=now)
        if self._runs_operations:
            # Leased to this engine before the commit: no other worker's
            # claim can take it between the commit and the hand-over.
            op.lease_owner = self.owner
            op.lease_until = now + datetime.timedelta(
                seconds=self._conf.share_worker.lease_seconds)
        return op

    def _hand_over(self, op: Operation) -> None:
        if self._runs_operations:
            self.reconciler.submit(op)
        self.outbox.poke()

    def report_rejected(self, kind: str, ctx: o_context.RequestContext,
                        args: dict, error: exception.ShareWorkerError,
                        key: str | None = None) -> None:
        """Queue the ``.error`` event of an authenticated caller's refused
        cast, in its project; *key* names the request (a redelivered
        refusal is not queued twice). Raises only StoreUnavailable (the
        cast is then tried again)."""
        try:
            project = ctx.project_id
            checkpoint, named = self._named_checkpoint(
                kind, project, args.get("checkpoint_id"))
            event_type, payload = rejected_event(
                kind, ctx, args, error, self._clock(), checkpoint, named)
            event_id = None
            if key:
                event_id = request_record_id("refusal:" + kind, project,
                                             key)
            about = None
            if kind == "delete" and checkpoint is not None:
                about = ("checkpoint", checkpoint["id"])
            self.ops.add_event(event_type, "ERROR", payload, self._clock(),
                               event_id, about=about)
            self.outbox.poke()
        except exception.StoreUnavailable:
            raise
        except Exception:
            LOG.exception("Could not report the refused %s", kind)

    def _named_checkpoint(self, kind: str, project: str, value: Any
                          ) -> tuple[dict | None, str | None]:
        """(the caller's checkpoint the refused request names, the id its
        event may name): a checkpoint of the caller's project, or an id
        no record has (the caller's own choice); never another project's
        record. A protect's event never names an existing checkpoint
        (consumers would take it for that checkpoint's failure)."""
        try:
            cid = validate.record_id(value, "checkpoint_id")
        except exception.InvalidInput:
            return None, None
        if kind in ("delete", "restore"):
            try:
                return self.store.get_checkpoint(cid, project), cid
            except exception.CheckpointNotFound:
                pass
        try:
            self.store.get_checkpoint(cid)
        except exception.CheckpointNotFound:
            return None, cid            # free: the caller's own choice
        return None, None

    # -- protect / restore / delete ----------------------------------------

    def protect(self, ctx: o_context.RequestContext, resource: Any,
                options: Any = None, checkpoint_id: Any = None,
                trigger: str = "rpc", policy_id: str | None = None,
                request_key: str | None = None) -> dict:
        """Record a protect; its checkpoint once it is in the store (see
        :meth:`protect_later`)."""
        return self.admission.wait(self.protect_later(
            ctx, resource, options, checkpoint_id, trigger, policy_id,
            request_key))

    def protect_later(self, ctx: o_context.RequestContext, resource: Any,
                      options: Any = None, checkpoint_id: Any = None,
                      trigger: str = "rpc", policy_id: str | None = None,
                      request_key: str | None = None) -> dict | Pending:
        """Record a protect: its checkpoint, or the checkpoint pending on
        its commit (:mod:`share_worker.pending`). Without
        *checkpoint_id* the id is derived from *request_key* (the
        request's unique id), if given."""
        validate.require_project(ctx)
        resource = validate.resource_ref(resource)
        plugin = self.registry.protection(resource["type"])
        #: a repeated request (or a redelivered one) finds its record
        chosen = checkpoint_id is not None or request_key is not None
        if checkpoint_id is not None:
            checkpoint_id = validate.record_id(checkpoint_id, "checkpoint_id")
        else:
            checkpoint_id = request_record_id("checkpoint", ctx.project_id,
                                              request_key)
        options = plugin.prepare_protect(checkpoint_id, options)
        try:
            self.admission.reserve(ctx.project_id)
        except (exception.Busy, exception.QuotaExceeded):
            # A repeated request is answered even when the worker is full.
            existing = chosen and self._existing(ctx, checkpoint_id,
                                                 resource)
            if existing:
                return existing
            raise
        now = self._clock()
        record = dict(
            id=checkpoint_id, project_id=ctx.project_id, user_id=ctx.user_id,
            resource_type=resource["type"], resource_id=resource["id"],
            resource_name=resource.get("name"),
            resource_extra=resource.get("extra_info") or {},
            status="protecting", options=options, saved_info={},
            trigger=trigger, policy_id=policy_id, error=None,
            created_at=now, updated_at=now)
        op = self._new_op("protect", ctx, checkpoint_id, resource["type"],
                          {"options": options,
                           "resource": {"type": resource["type"],
                                        "id": resource["id"]}})
        def answer(recorded: tuple[dict, bool]) -> dict:
            checkpoint, created = recorded
            if not created:
                return self._same_resource(ctx, checkpoint, resource)
            return checkpoint

        return self.admission.record_later(Acceptance(
            "checkpoint", record, op, KINDS["protect"][2] + ".start",
            "checkpoint %s protecting %s %s for project %s (request %s)" % (
                checkpoint_id, resource["type"], resource["id"],
                ctx.project_id, ctx.request_id)), self._hand_over).map(answer)

    def _existing(self, ctx: o_context.RequestContext, checkpoint_id: str,
                  resource: dict) -> dict | None:
        try:
            checkpoint = self.store.get_checkpoint(checkpoint_id)
        except exception.CheckpointNotFound:
            return None
        return self._same_resource(ctx, checkpoint, resource)

    @staticmethod
    def _same_resource(ctx: o_context.RequestContext, checkpoint: dict,
                       resource: dict) -> dict:
        same = (checkpoint["project_id"] == ctx.project_id
                and checkpoint["resource"]["type"] == resource["type"]
                and checkpoint["resource"]["id"] == resource["id"])
        if not same:
            # Whose it is and what it protects stay unsaid.
            raise exception.InvalidInput(
                reason="checkpoint_id is not available; choose a new id")
        return checkpoint

    def restore(self, ctx: o_context.RequestContext, checkpoint_id: Any,
                options: Any = None, request_key: str | None = None) -> dict:
        """Record a restore; its record once it is in the store (see
        :meth:`restore_later`)."""
        return self.admission.wait(self.restore_later(
            ctx, checkpoint_id, options, request_key))

    def restore_later(self, ctx: o_context.RequestContext,
                      checkpoint_id: Any, options: Any = None,
                      request_key: str | None = None) -> dict | Pending:
        """Record a restore: its record, or the record pending on its
        commit. Its id is derived from *request_key* (the request's
        unique id), if given, so a redelivery makes no other."""
        validate.require_project(ctx)
        checkpoint_id = validate.record_id(checkpoint_id, "checkpoint_id")
        restore_id = request_record_id("restore", ctx.project_id,
                                       request_key)
        if request_key:
            try:     # a redelivered request: the first delivery's record
                return self.store.get_restore(restore_id, ctx.project_id)
            except exception.RestoreNotFound:
                pass
        checkpoint = self.store.get_checkpoint(checkpoint_id, ctx.project_id)
        if checkpoint["status"] != "available":
            raise exception.InvalidState(
                reason="checkpoint %s is %s; only an available checkpoint "
                       "can be restored" % (checkpoint_id,
                                            checkpoint["status"]))
        rtype = checkpoint["resource"]["type"]
        plugin = self.registry.protection(rtype)
        options, target = plugin.prepare_restore(checkpoint, options)
        self.admission.reserve(ctx.project_id)
        now = self._clock()
        record = dict(id=restore_id, project_id=ctx.project_id,
                      user_id=ctx.user_id, checkpoint_id=checkpoint_id,
                      status="in_progress", options=options, target=target,
                      error=None, created_at=now, updated_at=now)
        op = self._new_op("restore", ctx, restore_id, rtype, {
            "options": options, "target": target,
            "saved_info": plugin.get_saved_info(checkpoint,
                                                checkpoint["resource"])})
        return self.admission.record_later(Acceptance(
            "restore", record, op, KINDS["restore"][2] + ".start",
            "restore %s of checkpoint %s (%s) for project %s (request %s)"
            % (restore_id, checkpoint_id, target["mode"], ctx.project_id,
               ctx.request_id)), self._hand_over).map(_first)

    def delete(self, ctx: o_context.RequestContext,
               checkpoint_id: Any) -> dict:
        validate.require_project(ctx)
        checkpoint_id = validate.record_id(checkpoint_id, "checkpoint_id")
        checkpoint = self.store.get_checkpoint(checkpoint_id, ctx.project_id)
        if checkpoint["status"] in ("deleting", "deleted"):
            return checkpoint
        if checkpoint["status"] not in DELETABLE:
            raise exception.InvalidState(
                reason="checkpoint %s is %s; it can be deleted when it is "
                       "one of %s" % (checkpoint_id, checkpoint["status"],
                                      ", ".join(DELETABLE)))
        rtype = checkpoint["resource"]["type"]
        self.registry.protection(rtype)
        self.admission.reserve(ctx.project_id)
        op = self._new_op("delete", ctx, checkpoint_id, rtype, {})
        try:
            result, created = self.ops.accept_delete(
                checkpoint_id, ctx.project_id, DELETABLE, op,
                KINDS["delete"][2] + ".start")
        except Exception:
            self.admission.release()
            raise
        if not created:
            self.admission.release()
            return result
        LOG.info("Checkpoint %s: deleting (request %s)", checkpoint_id,
                 ctx.request_id)
        self._hand_over(op)
        return result


def _first(recorded: tuple[dict, bool]) -> dict:
    return recorded[0]
