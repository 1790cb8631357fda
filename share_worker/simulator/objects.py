"""Direct object control: seed shares/snapshots, read or force statuses.

    >>> from share_worker.simulator import ManilaSimulator
    >>> sim = ManilaSimulator(clock=lambda: 0.0)
    >>> share_id = sim.create_share("proj", size=2, name="a")
    >>> snap_id = sim.create_snapshot(share_id)
    >>> sim.set_status("snapshot", snap_id, "error")
    >>> sim.snapshot(snap_id)["status"]
    'error'

Seeding bypasses the API's checks and quotas (usage is still counted), so
thousands of shares can be made in milliseconds.  Read-backs return plain
dicts with settled statuses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from share_worker.simulator import models
from share_worker.simulator.store import Store


class ObjectsApi:
    """Object-level part of :class:`~.core.ManilaSimulator`."""

    store: Store

    def create_share(
        self,
        project_id: str,
        size: int = 1,
        name: str | None = None,
        share_proto: str = "NFS",
        share_type: str | None = None,
        status: str = models.AVAILABLE,
        metadata: Mapping[str, str] | None = None,
        user_id: str = "seed",
        availability_zone: str = "nova",
        is_public: bool = False,
        share_network_id: str | None = None,
        share_id: str | None = None,
    ) -> str:
        """Add a share in ``status`` right away; return its id."""
        store = self.store
        with store.lock:
            stype = (store.find_type(share_type) if share_type
                     else store.default_type())
            if stype is None:
                raise ValueError(f"no share type {share_type!r}")
            share = models.Share(
                id=share_id or models.new_id(),
                project_id=project_id,
                user_id=user_id,
                size=int(size),
                share_proto=share_proto.upper(),
                share_type=stype,
                created_at=store.now(),
                status=status,
                name=name,
                metadata={k: str(v) for k, v in (metadata or {}).items()},
                availability_zone=availability_zone,
                is_public=is_public,
                share_network_id=share_network_id,
            )
            store.add_share(share)
            return share.id

    def create_shares(self, project_id: str, count: int,
                      name_prefix: str = "share", **kwargs) -> list[str]:
        """Add ``count`` shares named ``<prefix>-<n>``; return their ids."""
        with self.store.lock:
            return [
                self.create_share(
                    project_id, name=f"{name_prefix}-{n}", **kwargs
                )
                for n in range(count)
            ]

    def create_snapshot(
        self,
        share_id: str,
        status: str = models.AVAILABLE,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        user_id: str | None = None,
    ) -> str:
        """Add a snapshot of ``share_id`` in ``status``; return its id."""
        store = self.store
        with store.lock:
            share = store.shares[share_id]
            snapshot = models.Snapshot(
                id=models.new_id(),
                share_id=share.id,
                project_id=share.project_id,
                user_id=user_id or share.user_id,
                size=share.size,
                share_size=share.size,
                share_proto=share.share_proto,
                created_at=store.now(),
                status=status,
                name=name,
                description=description,
                metadata={k: str(v) for k, v in (metadata or {}).items()},
            )
            store.add_snapshot(snapshot)
            return snapshot.id

    def set_status(self, kind: str, object_id: str, status: str) -> None:
        """Force a ``share`` or ``snapshot`` status, cancelling any
        pending transition."""
        store = self.store
        with store.lock:
            store.settle()
            record = self._record(kind, object_id)
            if record is None:
                raise KeyError(object_id)
            store.set_status(record, status)

    def share(self, share_id: str) -> dict | None:
        return self._read("share", share_id)

    def snapshot(self, snapshot_id: str) -> dict | None:
        return self._read("snapshot", snapshot_id)

    def shares(self, project_id: str | None = None) -> list[dict]:
        with self.store.lock:
            self.store.settle()
            return [
                _raw(s) for s in self.store.shares.values()
                if project_id in (None, s.project_id)
            ]

    def snapshots(self, project_id: str | None = None,
                  share_id: str | None = None) -> list[dict]:
        with self.store.lock:
            self.store.settle()
            return [
                _raw(s) for s in self.store.snapshots.values()
                if project_id in (None, s.project_id)
                and share_id in (None, s.share_id)
            ]

    def usage(self, project_id: str) -> dict[str, int]:
        with self.store.lock:
            self.store.settle()
            return dict(self.store.usage_of(project_id))

    def _read(self, kind: str, object_id: str) -> dict | None:
        with self.store.lock:
            self.store.settle()
            record = self._record(kind, object_id)
            return None if record is None else _raw(record)

    def _record(self, kind: str, object_id: str):
        if kind == "share":
            return self.store.shares.get(object_id)
        if kind == "snapshot":
            return self.store.snapshots.get(object_id)
        raise ValueError(f"kind must be 'share' or 'snapshot', not {kind!r}")


def _raw(record: models.Share | models.Snapshot) -> dict:
    out = {
        f.name: getattr(record, f.name)
        for f in dataclasses.fields(record)
        if f.name not in ("share_type", "gen", "created_at_text")
    }
    out["metadata"] = dict(record.metadata)
    out["created_at"] = record.created_at_text
    if isinstance(record, models.Share):
        out["share_type"] = record.share_type.id
        out["share_type_name"] = record.share_type.name
    return out
