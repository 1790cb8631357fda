"""The share ``revert`` action (microversion 2.27+), with Manila's checks.

    >>> from share_worker.simulator import revert
    >>> revert.MIN_VERSION
    (2, 27)

The share goes ``reverting`` and the snapshot ``restoring``; after the
revert delay both are ``available`` again and the share takes the
snapshot's size, or, when a fault was injected, the share ends in
``reverting_error`` and the snapshot back in ``available`` (as Manila's
share manager does).
"""

from __future__ import annotations

from share_worker.simulator import errors, models, shares
from share_worker.simulator.store import Store

MIN_VERSION = (2, 27)


def revert(store: Store, ctx: models.RequestContext, share_id: str,
           info: object) -> tuple[int, None]:
    if not ctx.at_least(MIN_VERSION):
        raise errors.not_found()
    snapshot_id = info.get("snapshot_id") if isinstance(info, dict) else None
    if not isinstance(snapshot_id, str):
        raise errors.bad_request(
            f"Invalid input for field/attribute revert. Value: {info}. "
            "'snapshot_id' is a required property"
        )
    share = shares.find(store, ctx, share_id)
    if share is None:
        raise errors.not_found(f"Share {share_id} could not be found.")
    snapshot = store.snapshots.get(snapshot_id)
    if snapshot is None or not (
        ctx.identity.is_admin or snapshot.project_id == ctx.identity.project_id
    ):
        raise errors.bad_request(
            f"Snapshot {snapshot_id} could not be found."
        )
    _check(store, share, snapshot)
    store.set_status(share, models.REVERTING)
    store.set_status(snapshot, models.RESTORING)
    failed = store.take_object_fault("revert", share.id, snapshot.id)

    def finish() -> None:
        store.set_status(
            share, models.REVERTING_ERROR if failed else models.AVAILABLE
        )
        if not failed:
            store.resize_share(share, snapshot.size)
        if snapshot.id in store.snapshots:
            store.set_status(snapshot, models.AVAILABLE)

    store.schedule(store.delays["revert"], share, finish)
    return 202, None


def _check(store: Store, share: models.Share,
           snapshot: models.Snapshot) -> None:
    ids = {"share_id": share.id, "snap_id": snapshot.id}
    if not share.revert_to_snapshot_support:
        raise errors.bad_request(
            "Share {share_id} may not be reverted to snapshot {snap_id}, "
            "because the share does not have that capability.".format(**ids)
        )
    if snapshot.share_id != share.id:
        raise errors.bad_request(
            "Snapshot {snap_id} is not associated with share "
            "{share_id}.".format(**ids)
        )
    if share.status != models.AVAILABLE:
        raise errors.conflict(
            f"Share {share.id} is in '{share.status}' state, but it must be "
            "in 'available' state to be reverted to a snapshot."
        )
    if snapshot.status != models.AVAILABLE:
        raise errors.conflict(
            f"Snapshot {snapshot.id} is in '{snapshot.status}' state, but it "
            "must be in 'available' state to be restored."
        )
    latest = _latest(store, share.id)
    if latest is None:
        raise errors.bad_request(
            f"Could not determine the latest snapshot for share {share.id}."
        )
    if latest.id != snapshot.id:
        raise errors.conflict(
            f"Snapshot {snapshot.id} may not be restored because it is not "
            f"the most recent snapshot of share {share.id}. Currently the "
            f"latest snapshot is {latest.id}."
        )


def _latest(store: Store, share_id: str) -> models.Snapshot | None:
    """Newest snapshot of a share whatever its status, as Manila's DB."""
    newest = None
    for snapshot in store.snapshots_of(share_id):
        if newest is None or snapshot.created_at >= newest.created_at:
            newest = snapshot
    return newest
