"""The simulator's state: records, indexes, quotas, timed transitions.

    >>> from share_worker.simulator.store import Store
    >>> store = Store(clock=lambda: 0.0)
    >>> store.default_type().name
    'default'

Everything is guarded by one re-entrant ``lock``; callers hold it for a
whole operation.  Statuses change lazily: an operation ``schedule()``s a
transition due at ``clock() + delay`` on a heap, and ``settle()`` (called
at the start of every operation) applies the ones that are due, so idle
objects cost nothing and there is no timer thread.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import threading
import time
from collections.abc import Callable

from share_worker.simulator import models, versions

QUOTA_RESOURCES = ("shares", "gigabytes", "snapshots", "snapshot_gigabytes")
DELAY_NAMES = (
    "share_create",
    "share_delete",
    "snapshot_create",
    "snapshot_delete",
    # Manila 23 deletes a snapshot's instance before the snapshot: for a
    # moment a GET of it, or a list that holds it, answers 400.
    "snapshot_delete_tail",
    "revert",
)
FAULT_OPERATIONS = {
    # operation: status the object ends in
    "share_create": models.ERROR,
    "share_delete": models.ERROR_DELETING,
    "snapshot_create": models.ERROR,
    "snapshot_delete": models.ERROR_DELETING,
    "revert": models.REVERTING_ERROR,
}
UNLIMITED = -1


@dataclasses.dataclass
class _ObjectFault:
    operation: str
    resource_id: str | None
    remaining: int


class Store:
    """Shared state of one simulated Manila."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._seq = itertools.count()
        self.reset()

    def reset(self) -> None:
        """Forget every object and setting, as a fresh simulator."""
        with self.lock:
            self.shares: dict[str, models.Share] = {}
            self.snapshots: dict[str, models.Snapshot] = {}
            self.types: dict[str, models.ShareType] = {}
            self.share_snapshots: dict[str, dict[str, None]] = {}
            self.project_shares: dict[str, dict[str, None]] = {}
            self.public_shares: dict[str, None] = {}
            self.project_snapshots: dict[str, dict[str, None]] = {}
            self.usage: dict[str, collections.Counter] = {}
            self.quotas: dict[str, dict[str, int]] = {}
            self.default_quota = {name: UNLIMITED for name in QUOTA_RESOURCES}
            self.delays = {name: 0.0 for name in DELAY_NAMES}
            self.max_version = versions.DEFAULT_MAX_VERSION
            self.admin_projects: set[str] = {"admin"}
            self.tokens: dict[str, models.Identity] = {}
            self.strict_auth = False
            self.object_faults: list[_ObjectFault] = []
            self._pending: list[tuple] = []
            default = models.ShareType.new(
                "default", models.DEFAULT_TYPE_SPECS
            )
            self.types[default.id] = default
            self.default_type_name = "default"

    def now(self) -> float:
        return self.clock()

    # -- share types -----------------------------------------------------

    def default_type(self) -> models.ShareType | None:
        return self.find_type(self.default_type_name)

    def find_type(self, name_or_id: str) -> models.ShareType | None:
        found = self.types.get(name_or_id)
        if found is not None:
            return found
        for share_type in self.types.values():
            if share_type.name == name_or_id:
                return share_type
        return None

    # -- records and their indexes ---------------------------------------

    def add_share(self, share: models.Share) -> None:
        self.shares[share.id] = share
        self.project_shares.setdefault(share.project_id, {})[share.id] = None
        self.share_snapshots.setdefault(share.id, {})
        if share.is_public:
            self.public_shares[share.id] = None
        usage = self.usage_of(share.project_id)
        usage["shares"] += 1
        usage["gigabytes"] += share.size

    def remove_share(self, share_id: str) -> None:
        share = self.shares.pop(share_id, None)
        if share is None:
            return
        self.project_shares.get(share.project_id, {}).pop(share_id, None)
        self.share_snapshots.pop(share_id, None)
        self.public_shares.pop(share_id, None)
        usage = self.usage_of(share.project_id)
        usage["shares"] -= 1
        usage["gigabytes"] -= share.size

    def resize_share(self, share: models.Share, size: int) -> None:
        self.usage_of(share.project_id)["gigabytes"] += size - share.size
        share.size = size

    def add_snapshot(self, snapshot: models.Snapshot) -> None:
        self.snapshots[snapshot.id] = snapshot
        project = self.project_snapshots.setdefault(snapshot.project_id, {})
        project[snapshot.id] = None
        self.share_snapshots.setdefault(snapshot.share_id, {})[
            snapshot.id
        ] = None
        usage = self.usage_of(snapshot.project_id)
        usage["snapshots"] += 1
        usage["snapshot_gigabytes"] += snapshot.size

    def remove_snapshot(self, snapshot_id: str) -> None:
        snapshot = self.snapshots.pop(snapshot_id, None)
        if snapshot is None:
            return
        self.project_snapshots.get(snapshot.project_id, {}).pop(
            snapshot_id, None
        )
        self.share_snapshots.get(snapshot.share_id, {}).pop(snapshot_id, None)
        usage = self.usage_of(snapshot.project_id)
        usage["snapshots"] -= 1
        usage["snapshot_gigabytes"] -= snapshot.size

    def snapshots_of(self, share_id: str) -> list[models.Snapshot]:
        ids = self.share_snapshots.get(share_id, {})
        return [self.snapshots[i] for i in ids]

    # -- quotas ----------------------------------------------------------

    def usage_of(self, project_id: str) -> collections.Counter:
        return self.usage.setdefault(project_id, collections.Counter())

    def quota_of(self, project_id: str) -> dict[str, int]:
        quota = dict(self.default_quota)
        quota.update(self.quotas.get(project_id, {}))
        return quota

    def over_quota(self, project_id: str, **deltas: int) -> list[str]:
        """Return the resources ``deltas`` would push over quota."""
        quota = self.quota_of(project_id)
        usage = self.usage_of(project_id)
        return [
            name
            for name, delta in deltas.items()
            if quota[name] >= 0 and usage[name] + delta > quota[name]
        ]

    # -- timed transitions -----------------------------------------------

    def set_status(self, record: models.Share | models.Snapshot,
                   status: str) -> None:
        """Set a status now, cancelling any pending transition."""
        record.status = status
        record.gen += 1

    def schedule(
        self,
        delay: float,
        record: models.Share | models.Snapshot,
        apply: Callable[[], None],
    ) -> None:
        """Run ``apply`` once ``delay`` has passed, unless overtaken."""
        due = self.now() + max(delay, 0.0)
        entry = (due, next(self._seq), record, record.gen, apply)
        heapq.heappush(self._pending, entry)

    def settle(self) -> None:
        """Apply every transition that is due."""
        now = self.now()
        pending = self._pending
        while pending and pending[0][0] <= now:
            _due, _seq, record, gen, apply = heapq.heappop(pending)
            if record.gen == gen:
                apply()

    # -- object faults ---------------------------------------------------

    def add_object_fault(
        self, operation: str, resource_id: str | None, count: int
    ) -> None:
        if operation not in FAULT_OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        self.object_faults.append(
            _ObjectFault(operation, resource_id, count)
        )

    def take_object_fault(self, operation: str, *resource_ids: str) -> bool:
        """Consume one fault for ``operation`` on any of ``resource_ids``."""
        for fault in self.object_faults:
            if fault.operation != operation or fault.remaining <= 0:
                continue
            if fault.resource_id is None or fault.resource_id in resource_ids:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.object_faults.remove(fault)
                return True
        return False
