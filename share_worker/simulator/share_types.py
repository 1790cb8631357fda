"""The share types controller: ``GET /types``, ``/types/default``, one type.

    >>> from share_worker.simulator import models, share_types, store
    >>> st = store.Store(clock=lambda: 0.0)
    >>> ctx = models.RequestContext(models.Identity("u", "p"), (2, 73),
    ...                             "http://h")
    >>> share_types.default(st, ctx)[1]["share_type"]["name"]
    'default'

Bodies carry both ``share_type(s)`` and the legacy ``volume_type(s)`` keys,
as Manila's view builder does.
"""

from __future__ import annotations

from share_worker.simulator import errors, models, views
from share_worker.simulator.store import Store

Result = tuple[int, dict]


def index(store: Store, ctx: models.RequestContext, query: dict) -> Result:
    listed = [
        views.share_type(ctx, t, store.default_type_name)
        for t in store.types.values()
        if t.is_public or ctx.identity.is_admin
    ]
    return 200, {"share_types": listed, "volume_types": listed}


def show(store: Store, ctx: models.RequestContext, type_id: str) -> Result:
    share_type = store.find_type(type_id)
    if share_type is None:
        raise errors.not_found("Share type not found.")
    view = views.share_type(ctx, share_type, store.default_type_name)
    return 200, {"share_type": view, "volume_type": view}


def default(store: Store, ctx: models.RequestContext) -> Result:
    share_type = store.default_type()
    if share_type is None:
        raise errors.not_found("Default share type not found")
    view = views.share_type(ctx, share_type, store.default_type_name)
    return 200, {"share_type": view, "volume_type": view}
