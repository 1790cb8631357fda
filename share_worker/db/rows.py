"""In-memory views of operation rows, and the rows an accept writes.

Shared by :mod:`share_worker.db.operations` (leases, progress, outbox)
and :mod:`share_worker.db.acceptance` (new records)::

    op = Operation(id=..., kind="protect", record_id="cp-1", ...)
    op_values(op)                                   # its row
    event_rows(checkpoint, [("share_worker.checkpoint.protect.start",
                             "INFO")], now, last_sequence=1)

Each record counts its status events (``event_seq``); an event row
carries its number (``sequence``) and an ``event_id`` of its own, which
the outbox publishes with the payload (DESIGN section 4).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

import sqlalchemy as sa

from share_worker.db import models
from share_worker.db.store import checkpoint_dict, restore_dict

TABLES = {"checkpoint": (models.checkpoints, checkpoint_dict),
          "restore": (models.restores, restore_dict)}
# Built once: executing a prepared statement skips SQLAlchemy's
# per-call statement construction and cache-key work.
SELECT_BY_ID = {kind: sa.select(t).where(t.c.id == sa.bindparam("rid"))
                for kind, (t, _) in TABLES.items()}
SELECT_BY_IDS = {kind: sa.select(t).where(
    t.c.id.in_(sa.bindparam("rids", expanding=True)))
    for kind, (t, _) in TABLES.items()}
#: count *n* more status events of a record
BUMP_SEQUENCE = {kind: sa.update(t).where(t.c.id == sa.bindparam("rid"))
                 .values(event_seq=t.c.event_seq + sa.bindparam("n"))
                 for kind, (t, _) in TABLES.items()}


@dataclasses.dataclass
class Operation:
    """In-memory view of one operation row."""

    id: str
    kind: str
    record_id: str
    project_id: str
    resource_type: str
    phase: str
    state: dict
    context: dict
    auth_token: str | None
    attempt: int
    not_before: datetime.datetime
    deadline: datetime.datetime
    created_at: datetime.datetime
    finished: bool = False
    lease_owner: str | None = None
    lease_until: datetime.datetime | None = None
    #: claimed from an owner whose lease ran out (it may have been
    #: midway through a step); not stored
    taken_over: bool = False

    @property
    def record_kind(self) -> str:
        return "restore" if self.kind == "restore" else "checkpoint"


@dataclasses.dataclass
class RecordChange:
    """New column values for an operation's record, and events to emit."""

    values: dict
    events: list[tuple[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Advance:
    """The new state of an operation after one step."""

    op: Operation
    record: RecordChange | None = None


def op_from_row(row: Any) -> Operation:
    return Operation(
        id=row.id, kind=row.kind, record_id=row.record_id,
        project_id=row.project_id, resource_type=row.resource_type,
        phase=row.phase, state=dict(row.state), context=dict(row.context),
        auth_token=row.auth_token, attempt=row.attempt,
        not_before=row.not_before, deadline=row.deadline,
        created_at=row.created_at, finished=row.finished)


def op_values(op: Operation) -> dict:
    """The row of a new operation."""
    return dict(
        id=op.id, kind=op.kind, record_id=op.record_id,
        project_id=op.project_id, resource_type=op.resource_type,
        phase=op.phase, state=op.state, context=op.context,
        auth_token=op.auth_token, attempt=op.attempt,
        not_before=op.not_before, deadline=op.deadline,
        lease_owner=op.lease_owner, lease_until=op.lease_until,
        finished=op.finished, created_at=op.created_at,
        updated_at=op.created_at)


def event_rows(record: dict, events: list[tuple[str, str]],
               now: datetime.datetime, last_sequence: int,
               event_ids: list[str] | None = None) -> list[dict]:
    """Outbox rows of *events* (type, priority) about *record*, the
    last of which is the record's status event number *last_sequence*
    (0 for all: events about no stored record)."""
    first = last_sequence - len(events) + 1 if last_sequence else 0
    ids = event_ids or [uuid.uuid4().hex for _ in events]
    return [dict(event_type=event_type, priority=priority,
                 record_id=record.get("id") or "", payload=record,
                 created_at=now, event_id=event_id,
                 sequence=first + index if last_sequence else 0)
            for index, ((event_type, priority), event_id) in enumerate(
                zip(events, ids, strict=True))]


def next_sequences(conn: sa.engine.Connection, kind: str, record_id: str,
                   count: int) -> Any:
    """Count *count* more status events of a record; its row after."""
    conn.execute(BUMP_SEQUENCE[kind], {"rid": record_id, "n": count})
    return conn.execute(SELECT_BY_ID[kind], {"rid": record_id}).one()


def emit(conn: sa.engine.Connection, kind: str, record_id: str,
         events: list[tuple[str, str]], now: datetime.datetime) -> dict:
    """Queue *events* about a record as it now is; returns the record."""
    _, to_dict = TABLES[kind]
    row = next_sequences(conn, kind, record_id, len(events))
    record = to_dict(row)
    conn.execute(models.events.insert(),
                 event_rows(record, events, now, row.event_seq))
    return record


def emit_many(conn: sa.engine.Connection,
              changes: list[tuple[str, str, list[tuple[str, str]]]],
              now: datetime.datetime) -> None:
    """Queue the events of several records (kind, record id, events), as
    :func:`emit` does one by one, in a few statements: one executemany
    per kind and count, one read per kind, one insert. (Few calls into
    the driver: each gives the GIL away and waits to get it back, which
    a busy process makes slow.)"""
    if len({(kind, rid) for kind, rid, _ in changes}) < len(changes):
        for kind, rid, events in changes:       # a record twice: in turn
            emit(conn, kind, rid, events, now)
        return
    bumps: dict[tuple[str, int], list[dict]] = {}
    for kind, rid, events in changes:
        bumps.setdefault((kind, len(events)), []).append(
            {"rid": rid, "n": len(events)})
    for (kind, _), params in bumps.items():
        conn.execute(BUMP_SEQUENCE[kind], params)
    rows: dict[tuple[str, str], Any] = {}
    for kind in {kind for kind, _, _ in changes}:
        ids = [rid for k, rid, _ in changes if k == kind]
        for row in conn.execute(SELECT_BY_IDS[kind], {"rids": ids}):
            rows[(kind, row.id)] = row
    queued = []
    for kind, rid, events in changes:
        row = rows[(kind, rid)]
        queued.extend(event_rows(TABLES[kind][1](row), events, now,
                                 row.event_seq))
    conn.execute(models.events.insert(), queued)
