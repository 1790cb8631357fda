"""The three operations of the Manila share protection plugin.

Each is a small state machine the engine drives phase by phase (see
:mod:`share_worker.plugins.base`)::

    protect: start [-> name_snapshot] -> wait_snapshot [-> sweep] -> done
             (failure after a snapshot exists: cleanup -> cleanup_wait)
    restore: start -> wait_share | wait_revert -> done
             (a failed new share: cleanup -> cleanup_wait)
    delete:  start -> wait_gone -> done

Objects the worker creates carry the record's id: a checkpoint's snapshot
its metadata tag from microversion 2.73, below that the name derived
from the checkpoint id (:func:`tag_name`, renamed to a user's
``snapshot_name`` once its id is known); a restored share its metadata.
A step that may already have created one looks it up by that tag before
creating, and only the tag, never a name a user chose, makes a snapshot
the checkpoint's (:func:`tagged`). An operation another worker held
before (it may still be finishing a create), or whose earlier create
lost its answer (that request may still land), looks again once its
snapshot is available and deletes any second tagged one (``sweep``);
``delete`` removes every snapshot tagged with the checkpoint. Every call
that changes Manila is preceded by ``step.fence()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from share_worker import exception
from share_worker.clients.manila import manila_errors
from share_worker.plugins import base
from share_worker.plugins.manila_share_protectable import (
    SHARE_RESOURCE_TYPE,
    field,
    unusable_reason,
)

LOG = logging.getLogger(__name__)

CHECKPOINT_TAG = "share_worker_checkpoint_id"
RESTORE_TAG = "share_worker_restore_id"
#: statuses of a snapshot worth keeping, best first
_KEEP_ORDER = ("available", "creating")


def tag_name(checkpoint_id: str) -> str:
    """The snapshot name derived from a checkpoint id: the default
    ``snapshot_name``, and the tag below microversion 2.73."""
    return "share_worker-%s" % checkpoint_id


def tagged(snapshot: Any, checkpoint_id: str) -> bool:
    """Whether *snapshot* carries *checkpoint_id*'s tag: its metadata
    tag where it has one, else exactly the name derived from the id."""
    metadata = field(snapshot, "metadata") or {}
    if CHECKPOINT_TAG in metadata:
        return metadata[CHECKPOINT_TAG] == checkpoint_id
    return field(snapshot, "name") == tag_name(checkpoint_id)


def _finish(step: base.StepContext, note: str | None = None
            ) -> base.Transition:
    error = dict(step.state["error"])
    if note:
        error["message"] = "%s; %s" % (error["message"], note)
    return base.Transition(outcome=base.Outcome(False, error))


def _route(table: dict[str, Callable], phase: str, *args: Any) -> Any:
    """The handler of *phase*: a phase that isn't one (a corrupt or newer
    state) fails the operation instead of re-running another step."""
    handler = table.get(phase)
    if handler is None:
        raise exception.InvalidState(
            reason="unknown phase %r; the operation can't go on" % phase)
    return handler(*args)


class _Routed(base.Operation):
    """An operation whose phases are routed by its ``_acts`` and
    ``_observes`` tables (phase -> handler)."""

    _acts: dict[str, Callable]
    _observes: dict[str, Callable]

    def act(self, phase: str, step: base.StepContext) -> base.Transition:
        return _route(self._acts, phase, step)

    def observe(self, phase: str, step: base.StepContext,
                observed: dict | None) -> base.Transition | None:
        return _route(self._observes, phase, step, observed)


def _remove(step: base.StepContext, kind: str, object_id: str) -> bool:
    """Delete a snapshot or share the worker made (force-delete it with
    the service's rights when its status refuses a plain delete);
    whether it is gone or going."""
    manager = "snapshots" if kind == "snapshot" else "shares"
    what = "%s %s" % (kind, object_id)
    step.fence()
    try:
        with manila_errors("delete %s" % what):
            getattr(step.client(), manager).delete(object_id)
        return True
    except exception.ResourceNotFound:
        return True
    except (exception.ManilaError, exception.Forbidden):
        pass            # busy statuses (creating, ...) refuse a delete
    step.fence()
    try:
        with manila_errors("force-delete %s" % what):
            getattr(step.service_client(), manager).force_delete(object_id)
    except exception.ResourceNotFound:
        pass
    return True


class _CleanupMixin:
    """Deletes what a failed operation created, then finishes failed."""

    kind = "snapshot"

    def _start_cleanup(self, step: base.StepContext,
                       object_id: str | None) -> base.Transition:
        if not object_id or step.state.get("cleanup"):
            return _finish(step, step.state.get("cleanup_note"))
        step.state["cleanup"] = object_id
        return base.Transition(phase="cleanup",
                               timeout=step.timeout("cleanup"))

    def _cleanup(self, step: base.StepContext) -> base.Transition:
        object_id = step.state["cleanup"]
        try:
            _remove(step, self.kind, object_id)
        except exception.ResourceNotFound:
            pass
        return base.Transition(phase="cleanup_wait", wait=base.Wait(
            self.kind, object_id, listed_as="deleting"))

    def _cleanup_wait(self, step: base.StepContext,
                      observed: dict | None) -> base.Transition | None:
        what = "%s %s" % (self.kind, step.state["cleanup"])
        if observed is None:
            return _finish(step, "the failed %s was removed" % what)
        if observed["status"] in ("error_deleting", "deleted"):
            return _finish(step, "the failed %s could not be removed "
                                 "(status %s)" % (what, observed["status"]))
        return None

    def _cleanup_failed(self, step: base.StepContext,
                        error: exception.ShareWorkerError) -> base.Transition:
        return _finish(step, "the failed %s %s could not be removed: %s" % (
            self.kind, step.state["cleanup"], error.message))


class ProtectShare(_CleanupMixin, _Routed):
    """Snapshot a share and wait until the snapshot is available."""

    def __init__(self) -> None:
        self._acts = {"start": self._start, "name_snapshot": self._name,
                      "sweep": self._sweep, "cleanup": self._cleanup}
        self._observes = {"wait_snapshot": self._wait,
                          "cleanup_wait": self._cleanup_wait}

    @staticmethod
    def _checked_share(client: Any, step: base.StepContext) -> dict:
        """The share (ShareManager.get, as the caller) if it can be
        snapshotted; its saved_info goes into the checkpoint."""
        share_id = step.state["resource"]["id"]
        try:
            with manila_errors("show share %s" % share_id):
                share = client.shares.get(share_id)
        except exception.ResourceNotFound as e:
            raise exception.ResourceNotFound(
                resource_type=SHARE_RESOURCE_TYPE,
                resource_id=share_id) from e
        reason = unusable_reason(share)
        if reason:
            raise exception.InvalidState(
                reason="Share %s can't be protected: %s" % (share_id, reason))
        if share.status != "available" and not step.state["options"][
                "force"]:
            raise exception.InvalidState(
                reason="Share %s is %s, not available; wait for it or "
                       "protect with force=true" % (share_id, share.status))
        return {
            "share_id": share_id,
            "share_name": field(share, "name"),
            "size": field(share, "size"),
            "share_proto": field(share, "share_proto"),
            "share_type": field(share, "share_type"),
            "share_network_id": field(share, "share_network_id"),
            "availability_zone": field(share, "availability_zone"),
            "snapshot_id": None,
        }

    def _start(self, step: base.StepContext) -> base.Transition:
        share_id = step.state["resource"]["id"]
        options = step.state["options"]
        client = step.client()
        if step.taken_over or step.maybe_done:
            # The worker before may still be finishing a create, or an
            # earlier create whose answer was lost may land after this
            # one: look again once the snapshot is available.
            step.state["contested"] = True
        saved_info = self._checked_share(client, step)
        found = self._tagged(client, step) if step.maybe_done else []
        if found:
            snapshot, extras = _choose(found)
            self._remove_extras(step, extras)
            LOG.info("Checkpoint %s: adopted snapshot %s of share %s made "
                     "by an earlier attempt", step.record_id, snapshot.id,
                     share_id)
        else:
            metadata = client.supports_snapshot_metadata()
            kwargs: dict[str, Any] = {
                "force": options["force"],
                "name": options["snapshot_name"] if metadata
                else tag_name(step.record_id),
                "description": options["description"]}
            if metadata:
                kwargs["metadata"] = {CHECKPOINT_TAG: step.record_id}
            step.fence()
            with manila_errors("snapshot share %s" % share_id):
                snapshot = client.snapshots.create(share_id, **kwargs)
            LOG.info("Checkpoint %s: created snapshot %s of share %s",
                     step.record_id, snapshot.id, share_id)
        saved_info["snapshot_id"] = snapshot.id
        step.state["snapshot_id"] = snapshot.id
        if field(snapshot, "name") != options["snapshot_name"]:
            # Tagged by its name (below 2.73): the user's name now.
            return base.Transition(phase="name_snapshot",
                                   record={"saved_info": saved_info})
        return base.Transition(phase="wait_snapshot",
                               wait=base.Wait("snapshot", snapshot.id),
                               record={"saved_info": saved_info})

    def _name(self, step: base.StepContext) -> base.Transition:
        snapshot_id = step.state["snapshot_id"]
        name = step.state["options"]["snapshot_name"]
        step.fence()
        with manila_errors("name snapshot %s" % snapshot_id):
            step.client().snapshots.update(snapshot_id, display_name=name)
        return base.Transition(phase="wait_snapshot",
                               wait=base.Wait("snapshot", snapshot_id))

    @staticmethod
    def _tagged(client: Any, step: base.StepContext) -> list:
        """The share's snapshots that carry this checkpoint's tag."""
        share_id = step.state["resource"]["id"]
        with manila_errors("look up snapshots of share %s" % share_id):
            snapshots = client.snapshots.list(
                detailed=True, search_opts={"share_id": share_id})
        mine = step.state.get("snapshot_id")
        return [s for s in snapshots
                if s.id == mine or tagged(s, step.record_id)]

    def _remove_extras(self, step: base.StepContext, extras: list) -> None:
        for extra in extras:
            LOG.warning("Checkpoint %s: snapshot %s is a second one "
                        "tagged with it (a takeover); deleting it",
                        step.record_id, extra.id)
            try:
                _remove(step, "snapshot", extra.id)
            except exception.ShareWorkerError as e:
                if isinstance(e, (exception.LeaseLost,
                                  exception.StoreUnavailable)):
                    raise
                LOG.error("Checkpoint %s: the extra snapshot %s could not "
                          "be deleted (%s); deleting the checkpoint deletes "
                          "it", step.record_id, extra.id, e.message)

    def _wait(self, step: base.StepContext,
              observed: dict | None) -> base.Transition | None:
        snapshot_id = step.state["snapshot_id"]
        if observed is None:
            step.state.pop("snapshot_id")
            raise exception.ResourceError(
                what="snapshot %s" % snapshot_id, status="deleted")
        if observed["status"] == "available":
            if step.state.get("contested"):
                return base.Transition(phase="sweep")
            return base.Transition(outcome=base.Outcome(True))
        if observed["status"] in ("error", "error_deleting", "deleting"):
            raise exception.ResourceError(
                what="snapshot %s" % snapshot_id, status=observed["status"])
        return None

    def _sweep(self, step: base.StepContext) -> base.Transition:
        """Taken over: delete any other snapshot tagged with this
        checkpoint (one the worker before made after all). The
        checkpoint is good whatever happens here: what can't be looked
        up now goes when the checkpoint is deleted."""
        mine = step.state["snapshot_id"]
        try:
            found = self._tagged(step.client(), step)
        except (exception.LeaseLost, exception.StoreUnavailable):
            raise
        except exception.ShareWorkerError as e:
            LOG.warning("Checkpoint %s: could not look for a second tagged "
                        "snapshot (%s); deleting the checkpoint deletes any",
                        step.record_id, e.message)
            found = []
        self._remove_extras(step, [s for s in found if s.id != mine])
        return base.Transition(outcome=base.Outcome(True))

    def fail(self, step: base.StepContext,
             error: exception.ShareWorkerError) -> base.Transition:
        if step.state.get("cleanup"):
            return self._cleanup_failed(step, error)
        return self._start_cleanup(step, step.state.get("snapshot_id"))


def _choose(snapshots: list) -> tuple[Any, list]:
    """The tagged snapshot to keep (the best status, then the oldest)
    and the others."""
    def rank(snapshot: Any) -> tuple:
        status = field(snapshot, "status")
        order = _KEEP_ORDER.index(status) if status in _KEEP_ORDER \
            else len(_KEEP_ORDER)
        return order, field(snapshot, "created_at") or "", snapshot.id

    ranked = sorted(snapshots, key=rank)
    return ranked[0], ranked[1:]


class RestoreShare(_CleanupMixin, _Routed):
    """A new share from the snapshot, or a revert of the source share."""

    kind = "share"

    def __init__(self) -> None:
        self._acts = {"start": self._start, "cleanup": self._cleanup}
        self._observes = {"wait_share": self._wait,
                          "wait_revert": self._wait,
                          "cleanup_wait": self._cleanup_wait}

    def _start(self, step: base.StepContext) -> base.Transition:
        if step.state["target"]["mode"] == "revert":
            return self._revert(step)
        saved = step.state["saved_info"]
        options = step.state["options"]
        client = step.client()
        share = self._find(client, step) if step.maybe_done else None
        if share is None:
            step.fence()
            with manila_errors("create a share from snapshot %s"
                               % saved["snapshot_id"]):
                share = client.shares.create(
                    saved["share_proto"], saved["size"],
                    snapshot_id=saved["snapshot_id"],
                    name=options.get("restore_name"),
                    description=options.get("restore_description"),
                    metadata={RESTORE_TAG: step.record_id},
                    share_network=saved.get("share_network_id"))
            LOG.info("Restore %s: creating share %s from snapshot %s",
                     step.record_id, share.id, saved["snapshot_id"])
        step.state["share_id"] = share.id
        return base.Transition(
            phase="wait_share", wait=base.Wait("share", share.id),
            record={"target": {"share_id": share.id, "mode": "new"}})

    @staticmethod
    def _find(client: Any, step: base.StepContext) -> Any:
        with manila_errors("look up the share of restore %s"
                           % step.record_id):
            shares = client.shares.list(
                detailed=True,
                search_opts={"metadata": {RESTORE_TAG: step.record_id}})
        for share in shares:
            if (getattr(share, "metadata", None) or {}).get(
                    RESTORE_TAG) == step.record_id:
                return share
        return None

    def _revert(self, step: base.StepContext) -> base.Transition:
        saved = step.state["saved_info"]
        share_id, snapshot_id = saved["share_id"], saved["snapshot_id"]
        client = step.client()
        if not client.supports_revert():
            raise exception.InvalidState(
                reason="Manila offers API microversion %s; reverting share "
                       "%s in place needs 2.27 or later. Restore to a new "
                       "share instead (omit share_id)."
                       % (client.version.get_string(), share_id))
        with manila_errors("show share %s" % share_id):
            share = client.shares.get(share_id)
        if step.maybe_done and share.status == "reverting":
            return base.Transition(phase="wait_revert", wait=base.Wait(
                "share", share_id, listed_as="reverting"))
        if share.status != "available":
            raise exception.InvalidState(
                reason="Share %s is %s; it can be reverted only when "
                       "available" % (share_id, share.status))
        if getattr(share, "revert_to_snapshot_support", False) is not True:
            raise exception.InvalidState(
                reason="Share %s's type does not allow reverting to a "
                       "snapshot (revert_to_snapshot_support); restore to "
                       "a new share instead" % share_id)
        with manila_errors("list snapshots of share %s" % share_id):
            snaps = client.snapshots.list(detailed=True,
                                          search_opts={"share_id": share_id})
        snaps = [s for s in snaps if s.status == "available"]
        latest = max(snaps, key=lambda s: s.created_at or "", default=None)
        if latest is not None and latest.id != snapshot_id:
            raise exception.InvalidState(
                reason="Manila reverts share %s only to its latest snapshot,"
                       " which is %s, not this checkpoint's %s; restore to a"
                       " new share instead" % (share_id, latest.id,
                                               snapshot_id))
        step.fence()
        try:
            with manila_errors("revert share %s" % share_id):
                client.shares.revert_to_snapshot(share_id, snapshot_id)
        except exception.ManilaError as e:
            raise exception.InvalidState(
                reason="Manila refused to revert share %s to snapshot %s: %s"
                       % (share_id, snapshot_id, e.message)) from e
        LOG.info("Restore %s: reverting share %s to snapshot %s",
                 step.record_id, share_id, snapshot_id)
        return base.Transition(phase="wait_revert", wait=base.Wait(
            "share", share_id, listed_as="reverting"))

    def _wait(self, step: base.StepContext,
              observed: dict | None) -> base.Transition | None:
        share_id = (step.state.get("share_id")
                    or step.state["saved_info"]["share_id"])
        if observed is None:
            step.state.pop("share_id", None)
            raise exception.ResourceError(what="share %s" % share_id,
                                          status="deleted")
        status = observed["status"]
        if status == "available":
            return base.Transition(outcome=base.Outcome(True))
        if status in ("error", "reverting_error", "error_deleting",
                      "deleting"):
            raise exception.ResourceError(what="share %s" % share_id,
                                          status=status)
        return None

    def fail(self, step: base.StepContext,
             error: exception.ShareWorkerError) -> base.Transition:
        if step.state.get("cleanup"):
            return self._cleanup_failed(step, error)
        # Only a share this restore created is removed, never the source.
        return self._start_cleanup(step, step.state.get("share_id"))


class DeleteSnapshot(_Routed):
    """Delete a checkpoint's snapshot, and any other snapshot tagged with
    the checkpoint; already gone counts as deleted."""

    def __init__(self) -> None:
        self._acts = {"start": self._start}
        self._observes = {"wait_gone": self._wait}

    def _start(self, step: base.StepContext) -> base.Transition:
        saved = step.state.get("saved_info") or {}
        snapshot_id = saved.get("snapshot_id")
        self._remove_tagged(step, saved.get("share_id"), snapshot_id)
        if not snapshot_id:
            return base.Transition(outcome=base.Outcome(True))
        step.fence()
        try:
            with manila_errors("delete snapshot %s" % snapshot_id):
                step.client().snapshots.delete(snapshot_id)
        except exception.ResourceNotFound:
            return base.Transition(outcome=base.Outcome(True))
        except exception.ManilaError as e:
            raise exception.InvalidState(
                reason="Manila refused to delete snapshot %s: %s"
                       % (snapshot_id, e.message)) from e
        LOG.info("Checkpoint %s: deleting snapshot %s", step.record_id,
                 snapshot_id)
        return base.Transition(phase="wait_gone", wait=base.Wait(
            "snapshot", snapshot_id, listed_as="deleting"))

    @staticmethod
    def _remove_tagged(step: base.StepContext, share_id: str | None,
                       snapshot_id: str | None) -> None:
        """Other snapshots tagged with the checkpoint (left by a worker
        that lost its lease mid-create) go with it."""
        if not share_id:
            return
        try:
            with manila_errors("look up snapshots of share %s" % share_id):
                snapshots = step.client().snapshots.list(
                    detailed=True, search_opts={"share_id": share_id})
        except (exception.ResourceNotFound, exception.ManilaError,
                exception.ManilaUnavailable) as e:
            # Manila answers 400 listing a share's snapshots while one of
            # them is being deleted: the checkpoint's own goes anyway.
            LOG.info("Checkpoint %s: other tagged snapshots of share %s "
                     "not looked up (%s)", step.record_id, share_id,
                     e.message)
            return
        for snap in snapshots:
            if snap.id != snapshot_id and tagged(snap, step.record_id):
                LOG.warning("Checkpoint %s: deleting snapshot %s, another "
                            "one tagged with it", step.record_id, snap.id)
                _remove(step, "snapshot", snap.id)

    def _wait(self, step: base.StepContext,
              observed: dict | None) -> base.Transition | None:
        if observed is None:
            return base.Transition(outcome=base.Outcome(True))
        if observed["status"] == "error_deleting":
            raise exception.ResourceError(
                what="snapshot %s" % observed["id"],
                status=observed["status"])
        return None

    def fail(self, step: base.StepContext,
             error: exception.ShareWorkerError) -> base.Transition:
        return base.Transition(outcome=base.Outcome(False, error.to_error()))
