"""Batched status polls: one paged list call per project, kind and cycle.

Operations waiting on Manila objects are grouped by (project, kind); one
list of that project's snapshots (or shares) answers all of them. An object
missing from the list is confirmed with one GET before it counts as gone,
so a list that shifted between pages can't fake a deletion::

    statuses = poll(client, "snapshot", {"s1", "s2"})
    # {"s1": {"id": "s1", "status": "available"}, "s2": None}
"""

from __future__ import annotations

from typing import Any

from share_worker import exception
from share_worker.clients.manila import ManilaClient, manila_errors

PAGE_SIZE = 1000


def _view(obj: Any) -> dict:
    return {"id": obj.id, "status": getattr(obj, "status", None)}


def poll(client: ManilaClient, kind: str,
         wanted: set[str]) -> dict[str, dict | None]:
    """Current status of each wanted object (None when it is gone)."""
    lister = client.list_snapshots if kind == "snapshot" else \
        client.list_shares
    found: dict[str, dict | None] = {}
    offset = 0
    while True:
        page = lister({"limit": PAGE_SIZE, "offset": offset})
        for obj in page:
            if obj.id in wanted:
                found[obj.id] = _view(obj)
        if len(found) == len(wanted) or len(page) < PAGE_SIZE:
            break
        offset += PAGE_SIZE
    manager = client.snapshots if kind == "snapshot" else client.shares
    for object_id in wanted - set(found):
        try:
            with manila_errors("show %s %s" % (kind, object_id)):
                found[object_id] = _view(manager.get(object_id))
        except exception.ResourceNotFound:
            found[object_id] = None
    return found
