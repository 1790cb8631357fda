"""Admin actions: ``force_delete`` and ``reset_status`` of shares/snapshots.

    >>> from share_worker.simulator import admin_actions, models, store
    >>> st = store.Store(clock=lambda: 0.0)
    >>> ctx = models.RequestContext(models.Identity("u", "p"), (2, 7),
    ...                             "http://h")
    >>> try:
    ...     admin_actions.share_reset_status(st, ctx, "x", {})
    ... except Exception as exc:
    ...     exc.code
    403

Non-admins get a bare 403, as Manila's policy check; force delete skips
the status check but not the dependent-snapshot one (400 then).
"""

from __future__ import annotations

from share_worker.simulator import errors, models, shares, snapshots
from share_worker.simulator.store import Store

Result = tuple[int, dict | None]


def share_force_delete(
    store: Store, ctx: models.RequestContext, share_id: str, info: object
) -> Result:
    if not ctx.identity.is_admin:
        raise errors.forbidden()
    share = store.shares.get(share_id)
    if share is None:
        raise errors.not_found(f"Share {share_id} could not be found.")
    try:
        shares.start_delete(store, share)
    except errors.ApiError as exc:
        raise errors.bad_request(exc.message) from None
    return 202, None


def share_reset_status(
    store: Store, ctx: models.RequestContext, share_id: str, info: object
) -> Result:
    if not ctx.identity.is_admin:
        raise errors.forbidden()
    status = _wanted_status(info)
    share = store.shares.get(share_id)
    if share is None:
        raise errors.not_found(f"Share {share_id} not found")
    store.set_status(share, status)
    return 202, None


def _wanted_status(info: object) -> str:
    status = info.get("status") if isinstance(info, dict) else None
    if status is None:
        raise errors.bad_request("Must specify 'status'")
    if status not in models.RESETTABLE:
        raise errors.bad_request(
            "Invalid state. Valid states: "
            + ", ".join(sorted(models.RESETTABLE))
            + "."
        )
    return status


def snapshot_force_delete(
    store: Store, ctx: models.RequestContext, snapshot_id: str, info: object
) -> Result:
    if not ctx.identity.is_admin:
        raise errors.forbidden()
    snapshot = store.snapshots.get(snapshot_id)
    if snapshot is None:
        raise errors.not_found(
            f"Snapshot {snapshot_id} could not be found."
        )
    snapshots.start_delete(store, snapshot)
    return 202, None


def snapshot_reset_status(
    store: Store, ctx: models.RequestContext, snapshot_id: str, info: object
) -> Result:
    if not ctx.identity.is_admin:
        raise errors.forbidden()
    status = info.get("status") if isinstance(info, dict) else None
    if status is None:
        raise errors.bad_request("Must specify 'status'")
    valid = (models.CREATING, models.AVAILABLE, models.DELETING,
             models.ERROR, models.ERROR_DELETING, models.RESTORING,
             "manage_starting", "manage_error", "unmanage_starting",
             "unmanage_error")
    if status not in valid:
        raise errors.bad_request(
            "Invalid state. Valid states: " + ", ".join(sorted(valid)) + "."
        )
    snapshot = store.snapshots.get(snapshot_id)
    if snapshot is None:
        raise errors.not_found(
            f"Snapshot {snapshot_id} could not be found."
        )
    store.set_status(snapshot, status)
    return 202, None
