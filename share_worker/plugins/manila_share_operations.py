"""The three operations of the Manila share protection plugin.

Each is a small state machine the engine drives phase by phase (see
:mod:`share_worker.plugins.base`)::

    protect: start -> wait_snapshot -> done
             (failure after a snapshot exists: cleanup -> cleanup_wait)
    restore: start -> wait_share | wait_revert -> done
             (a failed new share: cleanup -> cleanup_wait)
    delete:  start -> wait_gone -> done

Objects the worker creates carry the record's id (snapshot name and, from
microversion 2.73, snapshot metadata; restored shares' metadata), so a
step that may already have created one looks it up before creating.
"""

from __future__ import annotations

import datetime
import logging
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
_CLOCK_SKEW = datetime.timedelta(minutes=5)


def _parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", ""))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def _finish(step: base.StepContext, note: str | None = None
            ) -> base.Transition:
    error = dict(step.state["error"])
    if note:
        error["message"] = "%s; %s" % (error["message"], note)
    return base.Transition(outcome=base.Outcome(False, error))


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
        what = "%s %s" % (self.kind, object_id)
        manager = "snapshots" if self.kind == "snapshot" else "shares"
        try:
            with manila_errors("delete %s" % what):
                getattr(step.client(), manager).delete(object_id)
        except exception.ResourceNotFound:
            return _finish(step, "the failed %s was removed" % what)
        except (exception.ManilaError, exception.Forbidden):
            # Busy statuses (creating, ...) refuse a plain delete.
            try:
                with manila_errors("force-delete %s" % what):
                    getattr(step.service_client(), manager).force_delete(
                        object_id)
            except exception.ResourceNotFound:
                return _finish(step, "the failed %s was removed" % what)
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


class ProtectShare(_CleanupMixin, base.Operation):
    """Snapshot a share and wait until the snapshot is available."""

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

    def act(self, phase: str, step: base.StepContext) -> base.Transition:
        if phase == "cleanup":
            return self._cleanup(step)
        share_id = step.state["resource"]["id"]
        options = step.state["options"]
        client = step.client()
        saved_info = self._checked_share(client, step)
        snapshot = self._find(client, step) if step.maybe_done else None
        if snapshot is None:
            kwargs: dict[str, Any] = {
                "force": options["force"], "name": options["snapshot_name"],
                "description": options["description"]}
            if client.supports_snapshot_metadata():
                kwargs["metadata"] = {CHECKPOINT_TAG: step.record_id}
            with manila_errors("snapshot share %s" % share_id):
                snapshot = client.snapshots.create(share_id, **kwargs)
            LOG.info("Checkpoint %s: created snapshot %s of share %s",
                     step.record_id, snapshot.id, share_id)
        else:
            LOG.info("Checkpoint %s: adopted snapshot %s of share %s made "
                     "before a restart", step.record_id, snapshot.id,
                     share_id)
        saved_info["snapshot_id"] = snapshot.id
        step.state["snapshot_id"] = snapshot.id
        return base.Transition(phase="wait_snapshot",
                               wait=base.Wait("snapshot", snapshot.id),
                               record={"saved_info": saved_info})

    @staticmethod
    def _find(client: Any, step: base.StepContext) -> Any:
        """The snapshot a previous attempt made for this checkpoint."""
        share_id = step.state["resource"]["id"]
        name = step.state["options"]["snapshot_name"]
        with manila_errors("look up snapshots of share %s" % share_id):
            snapshots = client.snapshots.list(
                detailed=True, search_opts={"share_id": share_id})
        earliest = step.created_at - _CLOCK_SKEW
        for snap in sorted(snapshots, key=lambda s: s.created_at or ""):
            tag = (getattr(snap, "metadata", None) or {}).get(CHECKPOINT_TAG)
            if tag == step.record_id:
                return snap
            if tag is None and getattr(snap, "name", None) == name:
                created = _parse_time(getattr(snap, "created_at", None))
                if created is None or created >= earliest:
                    return snap
        return None

    def observe(self, phase: str, step: base.StepContext,
                observed: dict | None) -> base.Transition | None:
        if phase == "cleanup_wait":
            return self._cleanup_wait(step, observed)
        snapshot_id = step.state["snapshot_id"]
        if observed is None:
            step.state.pop("snapshot_id")
            raise exception.ResourceError(
                what="snapshot %s" % snapshot_id, status="deleted")
        if observed["status"] == "available":
            return base.Transition(outcome=base.Outcome(True))
        if observed["status"] in ("error", "error_deleting", "deleting"):
            raise exception.ResourceError(
                what="snapshot %s" % snapshot_id, status=observed["status"])
        return None

    def fail(self, step: base.StepContext,
             error: exception.ShareWorkerError) -> base.Transition:
        if step.state.get("cleanup"):
            return self._cleanup_failed(step, error)
        return self._start_cleanup(step, step.state.get("snapshot_id"))


class RestoreShare(_CleanupMixin, base.Operation):
    """A new share from the snapshot, or a revert of the source share."""

    kind = "share"

    def act(self, phase: str, step: base.StepContext) -> base.Transition:
        if phase == "cleanup":
            return self._cleanup(step)
        if step.state["target"]["mode"] == "revert":
            return self._revert(step)
        saved = step.state["saved_info"]
        options = step.state["options"]
        client = step.client()
        share = self._find(client, step) if step.maybe_done else None
        if share is None:
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

    def observe(self, phase: str, step: base.StepContext,
                observed: dict | None) -> base.Transition | None:
        if phase == "cleanup_wait":
            return self._cleanup_wait(step, observed)
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


class DeleteSnapshot(base.Operation):
    """Delete a checkpoint's snapshot; already gone counts as deleted."""

    def act(self, phase: str, step: base.StepContext) -> base.Transition:
        snapshot_id = (step.state.get("saved_info") or {}).get("snapshot_id")
        if not snapshot_id:
            return base.Transition(outcome=base.Outcome(True))
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

    def observe(self, phase: str, step: base.StepContext,
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
