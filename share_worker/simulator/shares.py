"""The shares controller: create, list, show, delete, revert, admin actions.

    >>> from share_worker.simulator import models, shares, store
    >>> st = store.Store(clock=lambda: 0.0)
    >>> ctx = models.RequestContext(models.Identity("u", "p"), (2, 73),
    ...                             "http://h")
    >>> code, body = shares.create(st, ctx, {"share": {
    ...     "share_proto": "NFS", "size": 1}})
    >>> code, body["share"]["status"]
    (200, 'creating')

Each handler takes the store (its lock held by the caller), the request
context and the request's query or body, and returns ``(status, body)``
or raises :class:`~.errors.ApiError` with Manila's message.
"""

from __future__ import annotations

from share_worker.simulator import errors, listing, models, views
from share_worker.simulator.store import Store

PROTOCOLS = ("NFS", "CIFS", "CEPHFS", "GLUSTERFS", "HDFS", "MAPRFS")
DELETABLE = (models.AVAILABLE, models.ERROR, models.INACTIVE)
Result = tuple[int, dict | None]


def find(store: Store, ctx: models.RequestContext,
         share_id: str) -> models.Share | None:
    """Return the share if it exists and the caller may see it."""
    share = store.shares.get(share_id)
    if share is None:
        return None
    ident = ctx.identity
    if ident.is_admin or share.is_public:
        return share
    return share if share.project_id == ident.project_id else None


def get_or_404(store: Store, ctx: models.RequestContext,
               share_id: str) -> models.Share:
    share = find(store, ctx, share_id)
    if share is None:
        raise errors.not_found()
    return share


def create(store: Store, ctx: models.RequestContext, body: dict) -> Result:
    req = body.get("share") if isinstance(body, dict) else None
    if not isinstance(req, dict):
        raise errors.ApiError(422)
    snapshot = parent = None
    if req.get("snapshot_id"):
        snapshot = store.snapshots.get(req["snapshot_id"])
        if snapshot is None or not (
            ctx.identity.is_admin
            or snapshot.project_id == ctx.identity.project_id
        ):
            raise errors.not_found(
                f"ShareSnapshotNotFound: Snapshot {req['snapshot_id']} "
                "could not be found."
            )
        parent = store.shares[snapshot.share_id]
        if ctx.at_least((2, 24)) and not (
            parent.create_share_from_snapshot_support
        ):
            raise errors.bad_request(
                f"A new share may not be created from snapshot "
                f"'{snapshot.id}', because the snapshot's parent share "
                "does not have that capability."
            )
    share_type = _requested_type(store, req, parent)
    size = _size(req.get("size"), snapshot)
    if snapshot is not None and snapshot.status != models.AVAILABLE:
        raise errors.bad_request(
            "Invalid share snapshot: status must be 'available'."
        )
    proto = str(req.get("share_proto") or "").upper()
    if proto not in PROTOCOLS:
        raise errors.bad_request(
            f"Invalid input received: Invalid share protocol provided: "
            f"{req.get('share_proto')}. It is either disabled or "
            f"unsupported. Available protocols: {list(PROTOCOLS)}."
        )
    _check_quota(store, ctx.identity.project_id, size)
    share = models.Share(
        id=models.new_id(),
        project_id=ctx.identity.project_id,
        user_id=ctx.identity.user_id,
        size=size,
        share_proto=proto,
        share_type=share_type,
        created_at=store.now(),
        # Manila answers "creating" from snapshot too; only a driver that
        # creates asynchronously moves the share to creating_from_snapshot.
        status=models.CREATING,
        name=req.get("name"),
        description=req.get("description"),
        metadata={k: str(v) for k, v in (req.get("metadata") or {}).items()},
        share_network_id=req.get("share_network_id")
        or (parent.share_network_id if parent else None),
        availability_zone=req.get("availability_zone")
        or (parent.availability_zone if parent else "nova"),
        snapshot_id=snapshot.id if snapshot else None,
        is_public=models.is_true(req.get("is_public", False)),
    )
    store.add_share(share)
    sources = (snapshot.id, parent.id) if snapshot else ()
    fails = store.take_object_fault("share_create", share.id, *sources)
    final = models.ERROR if fails else models.AVAILABLE
    store.schedule(
        store.delays["share_create"],
        share,
        lambda: store.set_status(share, final),
    )
    return 200, {"share": views.share_detail(ctx, share)}


def _requested_type(store: Store, req: dict,
                    parent: models.Share | None) -> models.ShareType:
    wanted = req.get("share_type") or req.get("volume_type")
    if wanted:
        share_type = store.find_type(str(wanted))
        if share_type is None:
            raise errors.not_found("Share type not found.")
        if parent is not None and share_type.id != parent.share_type.id:
            raise errors.bad_request(
                "Invalid input received: Invalid share type specified: the "
                "requested share type must match the type of the source "
                "share. If a share type is not specified when requesting a "
                "new share from a snapshot, the share type of the source "
                "share will be applied to the new share.."
            )
    elif parent is not None:
        share_type = parent.share_type
    else:
        share_type = store.default_type()
        if share_type is None:
            raise errors.not_found("Default share type not found")
    if (
        share_type.supports("driver_handles_share_servers")
        and parent is None
        and not req.get("share_network_id")
    ):
        raise errors.bad_request(
            "Share network must be set when the "
            "driver_handles_share_servers is true."
        )
    return share_type


def _size(value: object, snapshot: models.Snapshot | None) -> int:
    if not value and snapshot is not None:
        return snapshot.size
    try:
        size = int(str(value))
    except ValueError:
        size = 0
    if size <= 0:
        raise errors.bad_request(
            f"Invalid input received: Share size '{value}' must be an "
            "integer and greater than 0."
        )
    if snapshot is not None and size < snapshot.size:
        raise errors.bad_request(
            f"Invalid input received: Share size '{size}' must be equal or "
            "greater than snapshot size."
        )
    return size


def _check_quota(store: Store, project_id: str, size: int) -> None:
    over = store.over_quota(project_id, shares=1, gigabytes=size)
    if "gigabytes" in over:
        raise errors.over_quota(
            "ShareSizeExceedsAvailableQuota: Requested share exceeds "
            "allowed project/user or share type gigabytes quota."
        )
    if "shares" in over:
        allowed = store.quota_of(project_id)["shares"]
        raise errors.over_quota(
            f"ShareLimitExceeded: Maximum number of shares allowed "
            f"({allowed}) either per project/user or share type quota is "
            "exceeded."
        )


def show(store: Store, ctx: models.RequestContext, share_id: str) -> Result:
    share = get_or_404(store, ctx, share_id)
    return 200, {"share": views.share_detail(ctx, share)}


def index(store: Store, ctx: models.RequestContext, query: dict,
          detail: bool = True) -> Result:
    page = listing.Page.from_query(query)
    key = listing.share_sort_key(page.sort_key)
    ident = ctx.identity
    wanted = _share_filters(ctx, query)
    if ident.is_admin and listing.is_all_tenants(query):
        ids = store.shares
    else:
        ids = store.project_shares.get(ident.project_id, {})
        if listing.is_public_flag(query):
            others = [i for i in store.public_shares if i not in ids]
            if others:
                ids = dict.fromkeys([*ids, *others])
                key = key or (lambda s: s.created_at)

    render = views.share_detail if detail else views.share_summary
    body = views.list_body(ctx, query, page, key, ids, store.shares, wanted,
                           render, "shares", "shares_links")
    return 200, body


def _share_filters(ctx: models.RequestContext, query: dict) -> list:
    checks = []
    simple = {
        "name": lambda s: s.name,
        "status": lambda s: s.status,
        "snapshot_id": lambda s: s.snapshot_id,
        "share_type_id": lambda s: s.share_type.id,
        "share_network_id": lambda s: s.share_network_id,
        "description": lambda s: s.description,
    }
    if ctx.identity.is_admin:
        simple["project_id"] = lambda s: s.project_id
        simple["host"] = lambda s: s.host
    for name, getter in simple.items():
        if name in query:
            checks.append(
                lambda s, g=getter, v=query[name]: str(g(s)) == v
            )
    if "metadata" in query:
        wanted = listing.parse_dict(query["metadata"])
        checks.append(
            lambda s: listing.metadata_matches(s.metadata, wanted)
        )
    return checks


def delete(store: Store, ctx: models.RequestContext, share_id: str) -> Result:
    share = get_or_404(store, ctx, share_id)
    if share.status not in DELETABLE:
        raise errors.forbidden(
            f"Invalid share: Share status must be one of {DELETABLE}."
        )
    start_delete(store, share)
    return 202, None


def start_delete(store: Store, share: models.Share) -> None:
    count = len(store.share_snapshots.get(share.id, {}))
    if count:
        raise errors.forbidden(
            f"Invalid share: Share still has {count} dependent snapshots."
        )
    store.set_status(share, models.DELETING)
    if store.take_object_fault("share_delete", share.id):
        apply = lambda: store.set_status(share, models.ERROR_DELETING)  # noqa
    else:
        apply = lambda: store.remove_share(share.id)  # noqa
    store.schedule(store.delays["share_delete"], share, apply)
