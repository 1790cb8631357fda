"""In-memory stand-ins for unit tests: a Manila client and a step context.

They mimic python-manilaclient's managers closely enough for the plugin
operations (attribute objects, NotFound on unknown ids), with no network.
"""

from __future__ import annotations

import datetime
import itertools
import types
from typing import Any

from manilaclient import api_versions
from manilaclient.common.apiclient import exceptions as m_exc

from share_worker import exception
from share_worker.plugins import base

_ids = itertools.count(1)


def obj(**kw: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(**kw)


class _Manager:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: dict[str, types.SimpleNamespace] = {}
        self.calls: list[tuple] = []
        self.fail_next: list[Exception] = []

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def get(self, object_id: str) -> types.SimpleNamespace:
        self.calls.append(("get", object_id))
        self._maybe_fail()
        if object_id not in self.items:
            raise m_exc.NotFound(404, "%s %s not found" % (self.kind,
                                                           object_id))
        return self.items[object_id]

    def list(self, detailed: bool = True,
             search_opts: dict | None = None) -> list:
        self.calls.append(("list", search_opts))
        self._maybe_fail()
        out = list(self.items.values())
        for key, value in (search_opts or {}).items():
            if key in ("share_id", "status", "name"):
                out = [o for o in out if getattr(o, key, None) == value]
            if key == "metadata":
                out = [o for o in out if all(
                    (o.metadata or {}).get(k) == v for k, v in value.items())]
        return out

    def delete(self, object_id: str) -> None:
        self.calls.append(("delete", object_id))
        self._maybe_fail()
        if object_id not in self.items:
            raise m_exc.NotFound(404, "not found")
        self.items[object_id].status = "deleting"

    def force_delete(self, object_id: str) -> None:
        self.calls.append(("force_delete", object_id))
        self._maybe_fail()
        self.items.pop(object_id, None)


class SnapshotManager(_Manager):
    def create(self, share_id: str, force: bool = False, name: str = None,
               description: str = None, metadata: dict = None) -> Any:
        self.calls.append(("create", share_id, name, metadata))
        self._maybe_fail()
        snap = obj(id="snap-%d" % next(_ids), share_id=share_id,
                   status="creating", name=name, description=description,
                   metadata=metadata or {}, size=1,
                   created_at=datetime.datetime.utcnow().isoformat())
        self.items[snap.id] = snap
        return snap


    def update(self, snapshot: Any, **kwargs: Any) -> Any:
        snapshot_id = getattr(snapshot, "id", snapshot)
        self.calls.append(("update", snapshot_id, kwargs))
        self._maybe_fail()
        if snapshot_id not in self.items:
            raise m_exc.NotFound(404, "not found")
        item = self.items[snapshot_id]
        if "display_name" in kwargs:
            item.name = kwargs["display_name"]
        return item


class ShareManager(_Manager):
    def create(self, share_proto: str, size: int, **kw: Any) -> Any:
        self.calls.append(("create", share_proto, size, kw))
        self._maybe_fail()
        share = obj(id="share-%d" % next(_ids), status="creating",
                    share_proto=share_proto, size=size,
                    metadata=kw.get("metadata") or {}, name=kw.get("name"))
        self.items[share.id] = share
        return share

    def revert_to_snapshot(self, share_id: str, snapshot_id: str) -> None:
        self.calls.append(("revert", share_id, snapshot_id))
        self._maybe_fail()
        self.items[share_id].status = "reverting"


class FakeManila:
    """Looks like share_worker.clients.manila.ManilaClient."""

    def __init__(self, version: str = "2.73") -> None:
        self.version = api_versions.APIVersion(version)
        self.shares = ShareManager("share")
        self.snapshots = SnapshotManager("snapshot")

    def supports_revert(self) -> bool:
        return self.version >= api_versions.APIVersion("2.27")

    def supports_snapshot_metadata(self) -> bool:
        return self.version >= api_versions.APIVersion("2.73")

    def _page(self, manager: _Manager, search_opts: dict | None) -> list:
        opts = dict(search_opts or {})
        offset, limit = opts.pop("offset", 0), opts.pop("limit", None)
        items = manager.list(search_opts=opts)
        return items[offset:None if limit is None else offset + limit]

    def list_snapshots(self, search_opts: dict | None = None) -> list:
        return self._page(self.snapshots, search_opts)

    def list_shares(self, search_opts: dict | None = None) -> list:
        return self._page(self.shares, search_opts)

    def add_share(self, **kw: Any) -> types.SimpleNamespace:
        values = dict(id="share-%d" % next(_ids), name="s", status="available",
                      size=1, share_proto="NFS", share_type="type-1",
                      share_network_id=None, availability_zone="nova",
                      project_id="p1", snapshot_support=True,
                      revert_to_snapshot_support=True, metadata={})
        values.update(kw)
        share = obj(**values)
        self.shares.items[share.id] = share
        return share


class FakeStep(base.StepContext):
    """A StepContext over a FakeManila."""

    def __init__(self, manila: FakeManila, state: dict,
                 record_id: str = "cp-1", maybe_done: bool = False,
                 taken_over: bool = False) -> None:
        self.manila = manila
        self.state = state
        self.record_id = record_id
        self.project_id = "p1"
        self.maybe_done = maybe_done or taken_over
        self.taken_over = taken_over
        self.created_at = datetime.datetime.utcnow()
        #: fence() calls; set lost to make the next one raise LeaseLost
        self.fences = 0
        self.lost = False

    def fence(self) -> None:
        self.fences += 1
        if self.lost:
            raise exception.LeaseLost(what="operation of %s"
                                      % self.record_id)

    def client(self) -> FakeManila:
        return self.manila

    def service_client(self) -> FakeManila:
        return self.manila

    def timeout(self, name: str) -> float:
        return 60.0


class FakeClients:
    """Looks like ManilaClientFactory; every identity gets one FakeManila."""

    def __init__(self, manila: FakeManila) -> None:
        self.manila = manila
        self.contexts: list[Any] = []

    def for_context(self, ctx: Any) -> FakeManila:
        self.contexts.append(ctx)
        return self.manila

    def for_polling(self, project_id: str) -> FakeManila:
        return self.manila

    def for_service(self) -> FakeManila:
        return self.manila
