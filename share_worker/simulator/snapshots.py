"""The snapshots controller: create, list, show, update, delete, admin
actions.

    >>> from share_worker.simulator import models, shares, snapshots, store
    >>> st = store.Store(clock=lambda: 0.0)
    >>> ctx = models.RequestContext(models.Identity("u", "p"), (2, 73),
    ...                             "http://h")
    >>> _, body = shares.create(st, ctx, {"share": {"share_proto": "NFS",
    ...                                             "size": 1}})
    >>> st.settle()
    >>> code, snap = snapshots.create(st, ctx, {"snapshot": {
    ...     "share_id": body["share"]["id"]}})
    >>> code, snap["snapshot"]["status"]
    (202, 'creating')

Handlers follow ``manila/api/v2/share_snapshots.py`` and the snapshot
parts of ``manila/share/api.py``; see :mod:`.shares` for the calling
convention.
"""

from __future__ import annotations

from collections.abc import Callable

from share_worker.simulator import errors, listing, models, views
from share_worker.simulator import metadata as meta
from share_worker.simulator.store import Store

METADATA_VERSION = (2, 73)
DELETABLE = (models.AVAILABLE, models.ERROR)
UPDATABLE = ("display_name", "display_description")
DISPLAY_FIELD_MAX = 255  # manila.common.constants
Result = tuple[int, dict | None]


def find(store: Store, ctx: models.RequestContext,
         snapshot_id: str) -> models.Snapshot | None:
    snapshot = store.snapshots.get(snapshot_id)
    if snapshot is None:
        return None
    ident = ctx.identity
    if ident.is_admin or snapshot.project_id == ident.project_id:
        return snapshot
    return None


def get_or_404(store: Store, ctx: models.RequestContext,
               snapshot_id: str) -> models.Snapshot:
    snapshot = find(store, ctx, snapshot_id)
    if snapshot is None:
        raise errors.not_found()
    return snapshot


def create(store: Store, ctx: models.RequestContext, body: dict) -> Result:
    req = body.get("snapshot") if isinstance(body, dict) else None
    if not isinstance(req, dict):
        raise errors.ApiError(422)
    share_id = str(req.get("share_id"))
    share = store.shares.get(share_id)
    if share is None:
        raise errors.not_found("NotFound: Resource could not be found.")
    ident = ctx.identity
    if not (ident.is_admin or share.is_public
            or share.project_id == ident.project_id):
        raise errors.not_found("NotFound: Resource could not be found.")
    if not share.snapshot_support:
        raise errors.ApiError(
            422,
            f"Snapshots cannot be created for share '{share_id}' since it "
            "does not have that capability.",
        )
    if not models.is_true(req.get("force", False)) and (
        share.status != models.AVAILABLE
    ):
        raise errors.bad_request(
            "Invalid share: Source share status must be available."
        )
    _check_quota(store, ident.project_id, share.size)
    metadata = {}
    if ctx.at_least(METADATA_VERSION) and req.get("metadata"):
        metadata = meta.validate(req)
    snapshot = models.Snapshot(
        id=models.new_id(),
        share_id=share.id,
        project_id=ident.project_id,
        user_id=ident.user_id,
        size=share.size,
        share_size=share.size,
        share_proto=share.share_proto,
        created_at=store.now(),
        status=models.CREATING,
        name=req.get("name") or req.get("display_name"),
        description=req.get("description")
        or req.get("display_description"),
        metadata=metadata,
    )
    store.add_snapshot(snapshot)
    failed = store.take_object_fault("snapshot_create", share.id)
    final = models.ERROR if failed else models.AVAILABLE
    store.schedule(
        store.delays["snapshot_create"],
        snapshot,
        lambda: store.set_status(snapshot, final),
    )
    return 202, {"snapshot": views.snapshot_detail(ctx, snapshot)}


def _check_quota(store: Store, project_id: str, size: int) -> None:
    over = store.over_quota(project_id, snapshots=1, snapshot_gigabytes=size)
    if "snapshot_gigabytes" in over:
        raise errors.over_quota(
            "SnapshotSizeExceedsAvailableQuota: Requested snapshot exceeds "
            "allowed project/user or share type gigabytes quota."
        )
    if "snapshots" in over:
        allowed = store.quota_of(project_id)["snapshots"]
        raise errors.over_quota(
            f"SnapshotLimitExceeded: Maximum number of snapshots allowed "
            f"({allowed}) either per project/user or share type quota is "
            "exceeded."
        )


def show(store: Store, ctx: models.RequestContext,
         snapshot_id: str) -> Result:
    snapshot = get_or_404(store, ctx, snapshot_id)
    return 200, {"snapshot": _render(views.snapshot_detail)(ctx, snapshot)}


def update(store: Store, ctx: models.RequestContext, snapshot_id: str,
           body: object) -> Result:
    """Rename or redescribe a snapshot in any status, as Manila's
    ``update``: only ``display_name``/``display_description`` apply."""
    if not isinstance(body, dict) or not body or "snapshot" not in body:
        raise errors.ApiError(422)
    req = body["snapshot"]
    if not isinstance(req, dict):  # Manila: a TypeError, answered 400
        raise errors.bad_request()
    changes = {key: req[key] for key in UPDATABLE if key in req}
    for key, value in changes.items():
        _check_display_field(key, value)
    snapshot = get_or_404(store, ctx, snapshot_id)
    if "display_name" in changes:
        snapshot.name = changes["display_name"]
    if "display_description" in changes:
        snapshot.description = changes["display_description"]
    return 200, {"snapshot": _render(views.snapshot_detail)(ctx, snapshot)}


def _check_display_field(name: str, value: object) -> None:
    """Manila's ``check_display_field_length`` (its TypeError on a
    non-text value answers 400 too)."""
    if value is None:
        return
    if not isinstance(value, str):
        raise errors.bad_request()
    if len(value) > DISPLAY_FIELD_MAX:
        raise errors.bad_request(
            f"Invalid input received: {name} can only be "
            f"{DISPLAY_FIELD_MAX} characters long."
        )


def _render(view: Callable) -> Callable:
    """*view*, or the 400 Manila answers for a snapshot whose instance is
    already deleted (its view can't be built)."""
    def render(ctx: models.RequestContext, snapshot: models.Snapshot
               ) -> dict:
        if snapshot.instance_gone:
            raise errors.bad_request()
        return view(ctx, snapshot)
    return render


def index(store: Store, ctx: models.RequestContext, query: dict,
          detail: bool = True) -> Result:
    page = listing.Page.from_query(query)
    key = listing.snapshot_sort_key(page.sort_key)
    ident = ctx.identity
    all_projects = ident.is_admin and listing.is_all_tenants(query)
    if "share_id" in query:
        ids = {
            i: None
            for i in store.share_snapshots.get(query["share_id"], {})
            if all_projects
            or store.snapshots[i].project_id == ident.project_id
        }
    elif all_projects:
        ids = store.snapshots
    else:
        ids = store.project_snapshots.get(ident.project_id, {})
    wanted = _filters(ctx, query)

    render = _render(views.snapshot_detail if detail
                     else views.snapshot_summary)
    body = views.list_body(ctx, query, page, key, ids, store.snapshots,
                           wanted, render, "snapshots",
                           "share_snapshots_links")
    return 200, body


def _filters(ctx: models.RequestContext, query: dict) -> list:
    simple = {
        "name": lambda s: s.name,
        "status": lambda s: s.status,
        "share_id": lambda s: s.share_id,
        "size": lambda s: s.size,
        "description": lambda s: s.description,
    }
    if ctx.identity.is_admin:
        simple["project_id"] = lambda s: s.project_id
        simple["user_id"] = lambda s: s.user_id
    checks = [
        lambda s, g=getter, v=query[name]: str(g(s)) == v
        for name, getter in simple.items()
        if name in query
    ]
    if "metadata" in query and ctx.at_least(METADATA_VERSION):
        wanted = listing.parse_dict(query["metadata"])
        checks.append(
            lambda s: listing.metadata_matches(s.metadata, wanted)
        )
    return checks


def delete(store: Store, ctx: models.RequestContext,
           snapshot_id: str) -> Result:
    snapshot = get_or_404(store, ctx, snapshot_id)
    if snapshot.status not in DELETABLE:
        raise errors.bad_request(
            "Invalid share snapshot: Share Snapshot status must be one of "
            f"{DELETABLE}."
        )
    start_delete(store, snapshot)
    return 202, None


def start_delete(store: Store, snapshot: models.Snapshot) -> None:
    store.set_status(snapshot, models.DELETING)
    if store.take_object_fault("snapshot_delete", snapshot.id,
                               snapshot.share_id):
        def apply() -> None:
            store.set_status(snapshot, models.ERROR_DELETING)
    else:
        def apply() -> None:
            tail = store.delays["snapshot_delete_tail"]
            if tail <= 0:
                store.remove_snapshot(snapshot.id)
                return
            snapshot.instance_gone = True
            store.schedule(tail, snapshot,
                           lambda: store.remove_snapshot(snapshot.id))
    store.schedule(store.delays["snapshot_delete"], snapshot, apply)
