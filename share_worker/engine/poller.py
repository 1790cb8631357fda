"""Batched status polls: one list call per (project, kind) and cycle.

Operations waiting on Manila objects are grouped by project and kind; one
paged list of that project's snapshots (or shares) answers all of them::

    statuses = poll(client, "snapshot", {"s1", "s2"})
    # {"s1": {"id": "s1", "status": "available", ...}, "s2": None}

Manila lists newest first, so objects being created are on the first
page; the first page is sized to the group. Paging stops once the pages
read outnumber the objects still missing: those are then read one by one
(a GET also confirms that a missing object is really gone, so a list that
shifted between pages can't fake a deletion). Objects expected to sit in
one status while the wait lasts (``listed_as="deleting"``) are listed with
that status filter, so only the few that left it are read one by one.
"""

from __future__ import annotations

from typing import Any

from share_worker import exception
from share_worker.clients.manila import ManilaClient, manila_errors

PAGE_SIZE = 1000
FIRST_PAGE_MIN = 50


def _view(obj: Any) -> dict:
    """The object's fields as Manila sent them."""
    info = getattr(obj, "_info", None)
    return dict(info) if isinstance(info, dict) else dict(vars(obj))


def poll(client: ManilaClient, kind: str, wanted: set[str],
         listed_as: str | None = None) -> dict[str, dict | None]:
    """Current fields of each wanted object (None when it is gone)."""
    lister = client.list_snapshots if kind == "snapshot" else \
        client.list_shares
    found: dict[str, dict | None] = {}
    filters = {"status": listed_as} if listed_as else {}
    limit = min(PAGE_SIZE, max(FIRST_PAGE_MIN, 2 * len(wanted)))
    offset = pages = 0
    while True:
        page = lister(dict(filters, limit=limit, offset=offset))
        pages += 1
        for obj in page:
            if obj.id in wanted:
                found[obj.id] = _view(obj)
        missing = len(wanted) - len(found)
        if not missing or len(page) < limit or pages >= missing:
            break
        offset += limit
        limit = PAGE_SIZE
    manager = client.snapshots if kind == "snapshot" else client.shares
    for object_id in wanted - set(found):
        try:
            with manila_errors("show %s %s" % (kind, object_id)):
                found[object_id] = _view(manager.get(object_id))
        except exception.ResourceNotFound:
            found[object_id] = None
    return found
