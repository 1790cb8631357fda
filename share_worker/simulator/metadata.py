"""Metadata endpoints of shares (all versions) and snapshots (2.73+).

    >>> from share_worker.simulator import metadata
    >>> metadata.validate({"metadata": {"a": 1}})
    {'a': '1'}

``GET`` lists, ``POST`` merges, ``PUT`` replaces, ``GET``/``PUT``/``DELETE``
on ``.../metadata/{key}`` handle one item, as Manila's
``MetadataController``.
"""

from __future__ import annotations

from collections.abc import Callable

from share_worker.simulator import errors, models, shares, snapshots
from share_worker.simulator.store import Store

Result = tuple[int, dict | None]
Record = models.Share | models.Snapshot


def validate(body: object, entity: str = "metadata") -> dict[str, str]:
    """Return the metadata of a request body; 400 if malformed."""
    metadata = body.get(entity) if isinstance(body, dict) else None
    if not isinstance(metadata, dict):
        raise errors.bad_request("Malformed request body")
    for key, value in metadata.items():
        if not key:
            raise errors.bad_request("Metadata property key is blank.")
        if len(key) > 255:
            raise errors.bad_request(
                "Metadata property key is greater than 255 characters.")
        if not value:
            raise errors.bad_request("Metadata property value is blank.")
        if len(str(value)) > 1023:
            raise errors.bad_request(
                "Metadata property value is greater than 1023 characters.")
    return {k: str(v) for k, v in metadata.items()}


def _resource(kind: str) -> Callable:
    def get(store: Store, ctx: models.RequestContext,
            resource_id: str) -> Record:
        if kind == "share":
            record = shares.find(store, ctx, resource_id)
        else:
            if not ctx.at_least(snapshots.METADATA_VERSION):
                raise errors.not_found()
            record = snapshots.find(store, ctx, resource_id)
        if record is None:
            raise errors.not_found(f"{kind.capitalize()} not found.")
        return record

    return get


def _handlers(kind: str) -> dict[str, Callable]:
    get = _resource(kind)

    def index(store: Store, ctx: models.RequestContext,
              resource_id: str) -> Result:
        return 200, {"metadata": dict(get(store, ctx, resource_id).metadata)}

    def create(store: Store, ctx: models.RequestContext, resource_id: str,
               body: object) -> Result:
        record = get(store, ctx, resource_id)
        record.metadata.update(validate(body))
        return 200, {"metadata": dict(record.metadata)}

    def update_all(store: Store, ctx: models.RequestContext,
                   resource_id: str, body: object) -> Result:
        record = get(store, ctx, resource_id)
        record.metadata = validate(body)
        return 200, {"metadata": dict(record.metadata)}

    def show_item(store: Store, ctx: models.RequestContext,
                  resource_id: str, key: str) -> Result:
        record = get(store, ctx, resource_id)
        if key not in record.metadata:
            raise errors.not_found(
                "MetadataItemNotFound: Metadata item is not found."
            )
        return 200, {"meta": {key: record.metadata[key]}}

    def update_item(store: Store, ctx: models.RequestContext,
                    resource_id: str, key: str, body: object) -> Result:
        entity = "meta" if isinstance(body, dict) and "meta" in body else (
            "metadata"
        )
        item = validate(body, entity)
        if key not in item:
            raise errors.bad_request("Request body and URI mismatch")
        if len(item) > 1:
            raise errors.bad_request("Request body contains too many items")
        record = get(store, ctx, resource_id)
        record.metadata.update(item)
        return 200, {"metadata": item}

    def delete_item(store: Store, ctx: models.RequestContext,
                    resource_id: str, key: str) -> Result:
        record = get(store, ctx, resource_id)
        if key not in record.metadata:
            raise errors.not_found(
                "MetadataItemNotFound: Metadata item is not found."
            )
        del record.metadata[key]
        return 200, None

    return {
        "index": index,
        "create": create,
        "update_all": update_all,
        "show_item": show_item,
        "update_item": update_item,
        "delete_item": delete_item,
    }


SHARE = _handlers("share")
SNAPSHOT = _handlers("share_snapshot")
