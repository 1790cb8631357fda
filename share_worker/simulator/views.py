"""Response bodies shaped like Manila's view builders, per microversion.

    >>> from share_worker.simulator import models, views
    >>> ctx = models.RequestContext(models.Identity("u", "p"), (2, 0),
    ...                             "http://h")
    >>> sorted(views.links(ctx, "shares", "x")[0])
    ['href', 'rel']

Fields follow ``manila/api/views/{shares,share_snapshots,types}.py``:
each versioned field appears from the microversion Manila added it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from share_worker.simulator import models

_TENANT_VISIBLE_SPECS = (
    "driver_handles_share_servers",
    "snapshot_support",
    "create_share_from_snapshot_support",
    "revert_to_snapshot_support",
    "replication_type",
    "mount_snapshot_support",
    "mount_point_name_support",
    "snapshot_inherit_share_access_support",
    "availability_zones",
    "encryption_support",
    "provisioning:max_share_size",
    "provisioning:min_share_size",
    "provisioning:max_share_extend_size",
    "provisioning:mount_point_prefix",
    "default_qos_type",
)
_INFERRED_SPECS = (
    "snapshot_support",
    "create_share_from_snapshot_support",
    "revert_to_snapshot_support",
    "mount_snapshot_support",
)


def links(ctx: models.RequestContext, collection: str, ident: str) -> list:
    return [
        {
            "rel": "self",
            "href": f"{ctx.link_prefix(True)}/{collection}/{ident}",
        },
        {
            "rel": "bookmark",
            "href": f"{ctx.link_prefix(False)}/{collection}/{ident}",
        },
    ]


def list_body(ctx: models.RequestContext, query: dict, page: Any,
              key: Any, ids: Any, table: dict, wanted: list,
              render: Callable, collection: str, links_key: str) -> dict:
    """One page of a list call: the records of *table* named by *ids*
    (in creation order) that pass every *wanted* check, rendered, with
    Manila's next link when the page is full."""

    def records(order: Any) -> Any:
        for record_id in order:
            record = table[record_id]
            if all(check(record) for check in wanted):
                yield record

    found = page.paginate(records(ids), key, records(reversed(ids)))
    body: dict = {collection: [render(ctx, r) for r in found]}
    if page.limit and len(found) == page.limit:
        body[links_key] = [next_link(ctx, collection, query, found[-1].id)]
    return body


def next_link(
    ctx: models.RequestContext, collection: str, query: dict, last_id: str
) -> dict:
    params = dict(query, marker=last_id)
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {
        "rel": "next",
        "href": f"{ctx.link_prefix(True)}/{collection}?{text}",
    }


def share_summary(ctx: models.RequestContext, share: models.Share) -> dict:
    return {
        "id": share.id,
        "name": share.name,
        "links": links(ctx, "shares", share.id),
    }


def share_detail(ctx: models.RequestContext, share: models.Share) -> dict:
    status = share.status
    if status == models.CREATING_FROM_SNAPSHOT and not ctx.at_least((2, 54)):
        status = models.CREATING
    view = {
        "id": share.id,
        "size": share.size,
        "availability_zone": share.availability_zone,
        "created_at": share.created_at_text,
        "status": status,
        "name": share.name,
        "description": share.description,
        "project_id": share.project_id,
        "snapshot_id": share.snapshot_id,
        "share_network_id": share.share_network_id,
        "share_proto": share.share_proto,
        "metadata": dict(share.metadata),
        "share_type": share.share_type.name,
        "volume_type": share.share_type.name,
        "links": links(ctx, "shares", share.id),
        "is_public": share.is_public,
    }
    if not ctx.at_least((2, 9)):
        view["export_location"] = None
        view["export_locations"] = []
    _add_share_versioned_fields(ctx, view, share)
    if ctx.identity.is_admin:
        view["share_server_id"] = None
        view["host"] = share.host
    return view


def _add_share_versioned_fields(
    ctx: models.RequestContext, view: dict, share: models.Share
) -> None:
    version = ctx.version
    if version >= (2, 2):
        view["snapshot_support"] = share.snapshot_support
    if version >= (2, 5):
        view["task_state"] = None
    if version >= (2, 6):
        view["share_type"] = share.share_type.id
        view["share_type_name"] = share.share_type.name
    if version >= (2, 10):
        view["access_rules_status"] = "active"
    if version >= (2, 11):
        view["replication_type"] = None
        view["has_replicas"] = False
    if version >= (2, 16):
        view["user_id"] = share.user_id
    if version >= (2, 24):
        view["create_share_from_snapshot_support"] = (
            share.create_share_from_snapshot_support
        )
    if version >= (2, 27):
        view["revert_to_snapshot_support"] = share.revert_to_snapshot_support
    if version >= (2, 31):
        view["share_group_id"] = None
        view["source_share_group_snapshot_member_id"] = None
    if version >= (2, 32):
        view["mount_snapshot_support"] = share.mount_snapshot_support
    if version >= (2, 54):
        view["progress"] = _progress(share.status)
    if version >= (2, 69):
        view["is_soft_deleted"] = False
        view["scheduled_to_be_deleted_at"] = None
    if version >= (2, 80):
        view["source_backup_id"] = None
    if version >= (2, 90):
        view["encryption_key_ref"] = None
    if version >= (2, 99):
        view["snapshot_inherit_share_access_support"] = False


def _progress(status: str) -> str | None:
    if status in (models.CREATING, models.CREATING_FROM_SNAPSHOT):
        return "0%"
    if status == models.AVAILABLE:
        return "100%"
    return None


def snapshot_summary(
    ctx: models.RequestContext, snapshot: models.Snapshot
) -> dict:
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "links": links(ctx, "snapshots", snapshot.id),
    }


def snapshot_detail(
    ctx: models.RequestContext, snapshot: models.Snapshot
) -> dict:
    view = {
        "id": snapshot.id,
        "share_id": snapshot.share_id,
        "share_size": snapshot.share_size,
        "created_at": snapshot.created_at_text,
        "status": snapshot.status,
        "name": snapshot.name,
        "description": snapshot.description,
        "size": snapshot.size,
        "share_proto": snapshot.share_proto,
        "links": links(ctx, "snapshots", snapshot.id),
    }
    if ctx.at_least((2, 12)) and ctx.identity.is_admin:
        view["provider_location"] = f"snapshot-{snapshot.id}"
    if ctx.at_least((2, 17)):
        view["user_id"] = snapshot.user_id
        view["project_id"] = snapshot.project_id
    if ctx.at_least((2, 73)):
        view["metadata"] = dict(snapshot.metadata)
    return view


def share_type(
    ctx: models.RequestContext, stype: models.ShareType, default_name: str
) -> dict:
    specs = dict(stype.extra_specs)
    if not ctx.identity.is_admin:
        specs = {k: v for k, v in specs.items() if k in _TENANT_VISIBLE_SPECS}
        if ctx.at_least((2, 24)):
            for name in _INFERRED_SPECS:
                specs.setdefault(name, False)
    view = {
        "id": stype.id,
        "name": stype.name,
        "extra_specs": specs,
        "required_extra_specs": {
            "driver_handles_share_servers": stype.extra_specs.get(
                "driver_handles_share_servers", "False"
            )
        },
    }
    if ctx.at_least((2, 7)):
        view["share_type_access:is_public"] = stype.is_public
    else:
        view["os-share-type-access:is_public"] = stype.is_public
    if ctx.at_least((2, 41)):
        view["description"] = stype.description
    if ctx.at_least((2, 46)):
        view["is_default"] = stype.name == default_name
    return view
