"""The Manila v2 route table: ``ROUTES[method] = [(regex, name, handler)]``.

    >>> from share_worker.simulator.routes import ROUTES
    >>> [name for _, name, _ in ROUTES["POST"]][:2]
    ['/shares', '/snapshots']

``name`` is the route template used in the request counters (e.g.
``GET /snapshots/detail``).  Handlers take ``(store, ctx, call)`` where
``call`` is a :class:`~.router.Call`; ``.../action`` routes are resolved
further by :mod:`.actions` from the body.
"""

from __future__ import annotations

import re

from share_worker.simulator import (
    metadata,
    models,
    share_types,
    shares,
    snapshots,
    versions,
)
from share_worker.simulator.store import Store


def version_index(store: Store, ctx: models.RequestContext,
                  call: object) -> tuple[int, dict]:
    doc = versions.document(ctx.root_url, store.max_version)
    return 200, {"versions": [doc]}


def _action_placeholder(store: Store, ctx: models.RequestContext,
                        call: object) -> tuple[int, dict]:
    # replaced by actions.resolve
    raise AssertionError("action routes are resolved by actions.resolve")


_ID = r"(?P<id>[^/]+)"
_KEY = r"(?P<key>[^/]+)"


def _table(entries):
    table: dict[str, list] = {}
    for method, template, handler in entries:
        pattern = template.replace("{id}", _ID).replace("{key}", _KEY)
        table.setdefault(method, []).append(
            (re.compile(f"^{pattern}$"), template, handler)
        )
    return table


def _metadata_routes(collection: str, handlers: dict) -> list:
    base = f"/{collection}/{{id}}/metadata"
    return [
        ("GET", base, lambda s, c, r: handlers["index"](s, c, r.args["id"])),
        ("POST", base, lambda s, c, r: handlers["create"](
            s, c, r.args["id"], r.body)),
        ("PUT", base, lambda s, c, r: handlers["update_all"](
            s, c, r.args["id"], r.body)),
        ("GET", base + "/{key}", lambda s, c, r: handlers["show_item"](
            s, c, r.args["id"], r.args["key"])),
        ("PUT", base + "/{key}", lambda s, c, r: handlers["update_item"](
            s, c, r.args["id"], r.args["key"], r.body)),
        ("DELETE", base + "/{key}", lambda s, c, r: handlers["delete_item"](
            s, c, r.args["id"], r.args["key"])),
    ]


ROUTES = _table(
    [
        ("POST", "/shares", lambda s, c, r: shares.create(s, c, r.body)),
        ("POST", "/snapshots",
         lambda s, c, r: snapshots.create(s, c, r.body)),
        ("POST", "/shares/{id}/action", _action_placeholder),
        ("POST", "/snapshots/{id}/action", _action_placeholder),
        ("GET", "/shares",
         lambda s, c, r: shares.index(s, c, r.query, detail=False)),
        ("GET", "/shares/detail",
         lambda s, c, r: shares.index(s, c, r.query)),
        ("GET", "/shares/{id}",
         lambda s, c, r: shares.show(s, c, r.args["id"])),
        ("DELETE", "/shares/{id}",
         lambda s, c, r: shares.delete(s, c, r.args["id"])),
        ("GET", "/snapshots",
         lambda s, c, r: snapshots.index(s, c, r.query, detail=False)),
        ("GET", "/snapshots/detail",
         lambda s, c, r: snapshots.index(s, c, r.query)),
        ("GET", "/snapshots/{id}",
         lambda s, c, r: snapshots.show(s, c, r.args["id"])),
        ("PUT", "/snapshots/{id}",
         lambda s, c, r: snapshots.update(s, c, r.args["id"], r.body)),
        ("DELETE", "/snapshots/{id}",
         lambda s, c, r: snapshots.delete(s, c, r.args["id"])),
        ("GET", "/types", lambda s, c, r: share_types.index(s, c, r.query)),
        ("GET", "/types/default",
         lambda s, c, r: share_types.default(s, c)),
        ("GET", "/types/{id}",
         lambda s, c, r: share_types.show(s, c, r.args["id"])),
        *_metadata_routes("shares", metadata.SHARE),
        *_metadata_routes("snapshots", metadata.SNAPSHOT),
    ]
)
