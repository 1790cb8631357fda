"""What a user would count after a fault: requests sent against records
made, snapshots per checkpoint, orphans, status events seen::

    counts = audit_protects(db_url, share_ids, sim.snapshots(), events)
    counts.lost, counts.duplicated, counts.orphans      # all 0, or a bug
    print(counts.row())

Each request protects a share of its own (``share_ids``), so a share
with no checkpoint is a lost request and one with two a duplicated one.
*snapshots* are the simulator's (or Manila's) snapshot dicts; those in
*foreign* (a user's own) are never the worker's. *events* are
``(event_type, payload)`` pairs in the order they arrived.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

_EXPECTED = {
    "protecting": (".protect.start",),
    "available": (".protect.start", ".protect.end"),
    "error": (".protect.start", ".protect.error"),
    "deleting": (".protect.start", ".protect.end", ".delete.start"),
    "deleted": (".protect.start", ".protect.end", ".delete.start",
                ".delete.end"),
}
_TERMINAL = ("available", "error", "deleted", "error-deleting")


@dataclasses.dataclass
class Counts:
    """Zero is the only good number but for ``sent``, ``recorded``,
    ``terminal``, ``events_seen`` and ``events_redelivered`` (delivery
    is at least once)."""

    sent: int = 0
    recorded: int = 0
    duplicated: int = 0
    terminal: int = 0
    events_seen: int = 0
    events_missing: int = 0
    events_redelivered: int = 0
    out_of_order: int = 0
    extra_snapshots: int = 0
    orphans: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.recorded

    def bad(self) -> dict[str, int]:
        """The counts that must be zero and are not."""
        names = ("lost", "duplicated", "events_missing", "out_of_order",
                 "extra_snapshots", "orphans")
        return {n: getattr(self, n) for n in names if getattr(self, n)}

    def row(self) -> str:
        return ("sent %d recorded %d lost %d duplicated %d terminal %d "
                "events %d (missing %d, redelivered %d, out of order %d) "
                "extra snapshots %d orphans %d" % (
                    self.sent, self.recorded, self.lost, self.duplicated,
                    self.terminal, self.events_seen, self.events_missing,
                    self.events_redelivered, self.out_of_order,
                    self.extra_snapshots, self.orphans))


def checkpoints(db_url: str) -> list[dict]:
    """Every checkpoint in the store at *db_url* (id, share, status,
    snapshot id)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, resource_id, status, saved_info FROM "
                "checkpoints")).all()
    finally:
        engine.dispose()
    out = []
    for row in rows:
        saved = row.saved_info
        if isinstance(saved, str):
            import json
            saved = json.loads(saved)
        out.append({"id": row.id, "share_id": row.resource_id,
                    "status": row.status,
                    "snapshot_id": (saved or {}).get("snapshot_id")})
    return out


def audit_protects(db_url: str, share_ids: Sequence[str],
                   snapshots: Iterable[dict],
                   events: Sequence[tuple[str, dict]],
                   foreign: Iterable[str] = ()) -> Counts:
    """Counts for one protect per share of *share_ids*."""
    records = [c for c in checkpoints(db_url) if c["share_id"] in
               set(share_ids)]
    per_share = collections.Counter(c["share_id"] for c in records)
    counts = Counts(sent=len(share_ids), recorded=len(per_share))
    counts.duplicated = sum(n - 1 for n in per_share.values())
    counts.terminal = sum(c["status"] in _TERMINAL for c in records)
    _count_snapshots(counts, records, snapshots, set(foreign))
    _count_events(counts, records, events)
    return counts


def _count_snapshots(counts: Counts, records: list[dict],
                     snapshots: Iterable[dict], foreign: set[str]) -> None:
    held = {c["snapshot_id"] for c in records if c["snapshot_id"]}
    by_checkpoint: collections.Counter = collections.Counter()
    shares = {c["share_id"] for c in records}
    for snap in snapshots:
        if snap["id"] in foreign or snap.get("share_id") not in shares:
            continue
        if snap.get("status") in ("deleting", "deleted"):
            continue
        tag = (snap.get("metadata") or {}).get("share_worker_checkpoint_id")
        if tag:
            by_checkpoint[tag] += 1
        if snap["id"] not in held:
            counts.orphans += 1
    counts.extra_snapshots = sum(n - 1 for n in by_checkpoint.values()
                                 if n > 1)


def _count_events(counts: Counts, records: list[dict],
                  events: Sequence[tuple[str, dict]]) -> None:
    seen_ids: set[str] = set()
    kinds: dict[str, set[str]] = collections.defaultdict(set)
    last: dict[str, int] = {}
    for event_type, payload in events:
        counts.events_seen += 1
        event_id = payload.get("event_id")
        if event_id in seen_ids:
            counts.events_redelivered += 1
            continue
        seen_ids.add(event_id)
        record = payload.get("id")
        kinds[record].add(event_type[event_type.index(".checkpoint") +
                                     len(".checkpoint"):]
                          if ".checkpoint" in event_type else event_type)
        sequence = payload.get("sequence", 0)
        if record in last and sequence < last[record]:
            counts.out_of_order += 1
        last[record] = max(sequence, last.get(record, 0))
    for record in records:
        for kind in _EXPECTED.get(record["status"], ()):
            if kind not in kinds.get(record["id"], set()):
                counts.events_missing += 1
