"""Operation rows: accept, claim by lease, advance in batches, outbox.

Every write that changes a record's status also appends its status event
to the outbox in the same transaction (invariant 4)::

    ops = OperationStore(store)
    ops.accept(new_checkpoint, new_operation, "share_worker.checkpoint"
               ".protect.start")
    batch = ops.claim("worker-1", now, lease_until, limit=100)
    ops.apply("worker-1", [Advance(...), ...])
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import types
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from share_worker import exception
from share_worker.db import models
from share_worker.db.store import Store, checkpoint_dict, restore_dict, utcnow

PAYLOAD_VERSION = "1.0"
#: PostgreSQL advisory lock key held by the worker publishing the outbox
_PUBLISHER_LOCK = 0x5357_0001

_TABLES = {"checkpoint": (models.checkpoints, checkpoint_dict),
           "restore": (models.restores, restore_dict)}


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


def _op_from_row(row: Any) -> Operation:
    return Operation(
        id=row.id, kind=row.kind, record_id=row.record_id,
        project_id=row.project_id, resource_type=row.resource_type,
        phase=row.phase, state=dict(row.state), context=dict(row.context),
        auth_token=row.auth_token, attempt=row.attempt,
        not_before=row.not_before, deadline=row.deadline,
        created_at=row.created_at, finished=row.finished)


def _event_rows(record: dict, events: list[tuple[str, str]],
                now: datetime.datetime) -> list[dict]:
    payload = dict(record, payload_version=PAYLOAD_VERSION)
    return [dict(event_type=event_type, priority=priority,
                 record_id=record["id"], payload=payload, created_at=now)
            for event_type, priority in events]


def _emit(conn: sa.engine.Connection, kind: str, record_id: str,
          events: list[tuple[str, str]], now: datetime.datetime) -> dict:
    table, to_dict = _TABLES[kind]
    row = conn.execute(_SELECT_BY_ID[kind], {"rid": record_id}).one()
    record = to_dict(row)
    conn.execute(models.events.insert(), _event_rows(record, events, now))
    return record


# Statements built once: executing them with parameters skips
# SQLAlchemy's per-call statement construction and cache-key work.
_SELECT_BY_ID = {kind: sa.select(t).where(t.c.id == sa.bindparam("rid"))
                 for kind, (t, _) in _TABLES.items()}
_OPS = models.operations
_OP_FENCE = sa.and_(_OPS.c.id == sa.bindparam("b_id"),
                    _OPS.c.lease_owner == sa.bindparam("b_owner"),
                    _OPS.c.finished.is_(False))
_ADVANCE = sa.update(_OPS).where(_OP_FENCE).values(
    {name: sa.bindparam(name) for name in (
        "phase", "state", "attempt", "not_before", "deadline", "finished",
        "updated_at")})
_FINISH = _ADVANCE.values(auth_token=None, lease_owner=None,
                          lease_until=None)
_RECORD_UPDATES: dict[tuple, sa.Update] = {}


def _record_update(kind: str, keys: tuple) -> sa.Update:
    stmt = _RECORD_UPDATES.get((kind,) + keys)
    if stmt is None:
        table, _ = _TABLES[kind]
        stmt = sa.update(table).where(
            table.c.id == sa.bindparam("b_id")).values(
            {k: sa.bindparam(k) for k in keys})
        _RECORD_UPDATES[(kind,) + keys] = stmt
    return stmt


class OperationStore:
    """Operations and the outbox, on top of a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- acceptance ---------------------------------------------------------

    def accept(self, kind: str, record: dict, op: Operation,
               event_type: str) -> tuple[dict, bool]:
        """Insert a new record and its operation; (record, created).

        When the record id exists already, nothing is written and the
        existing record comes back with ``created`` False.
        """
        table, to_dict = _TABLES[kind]
        with self.store.write() as conn:
            existing = conn.execute(_SELECT_BY_ID[kind],
                                    {"rid": record["id"]}).first()
            if existing is not None:
                return to_dict(existing), False
            conn.execute(table.insert(), record)
            conn.execute(_OPS.insert(), self._op_values(op))
            created = to_dict(types.SimpleNamespace(**record))
            conn.execute(models.events.insert(), _event_rows(
                created, [(event_type, "INFO")], op.created_at))
            return created, True

    def accept_delete(self, checkpoint_id: str, project_id: str,
                      allowed: tuple[str, ...], op: Operation,
                      event_type: str) -> tuple[dict, bool]:
        """Move a checkpoint to ``deleting`` (compare-and-swap) + operation.

        Returns (checkpoint, created); a checkpoint already deleting or
        deleted comes back unchanged with ``created`` False.
        """
        t = models.checkpoints
        now = op.created_at
        with self.store.write() as conn:
            row = conn.execute(sa.select(t).where(
                t.c.id == checkpoint_id, t.c.project_id == project_id)
            ).first()
            if row is None:
                raise exception.CheckpointNotFound(
                    checkpoint_id=checkpoint_id)
            if row.status in ("deleting", "deleted"):
                return checkpoint_dict(row), False
            if row.status not in allowed:
                raise exception.InvalidState(
                    reason="checkpoint %s is %s; it can be deleted when "
                           "it is one of %s" % (checkpoint_id, row.status,
                                                ", ".join(allowed)))
            done = conn.execute(sa.update(t).where(
                t.c.id == checkpoint_id, t.c.status == row.status).values(
                status="deleting", error=None, updated_at=now))
            if done.rowcount != 1:
                raise exception.InvalidState(
                    reason="checkpoint %s changed status meanwhile; retry"
                           % checkpoint_id)
            op.state.setdefault("saved_info", row.saved_info)
            conn.execute(sa.insert(models.operations).values(
                **self._op_values(op)))
            return _emit(conn, "checkpoint", checkpoint_id,
                         [(event_type, "INFO")], now), True

    @staticmethod
    def _op_values(op: Operation) -> dict:
        return dict(
            id=op.id, kind=op.kind, record_id=op.record_id,
            project_id=op.project_id, resource_type=op.resource_type,
            phase=op.phase, state=op.state, context=op.context,
            auth_token=op.auth_token, attempt=op.attempt,
            not_before=op.not_before, deadline=op.deadline,
            lease_owner=op.lease_owner, lease_until=op.lease_until,
            finished=op.finished, created_at=op.created_at,
            updated_at=op.created_at)

    # -- leases -------------------------------------------------------------

    def claim(self, owner: str, now: datetime.datetime,
              lease_until: datetime.datetime, limit: int,
              exclude: set[str] = frozenset()) -> list[Operation]:
        """Take up to *limit* unfinished operations nobody holds.

        Never the caller's own: an owner name is unique to one process's
        life, and what it holds it already has in memory (or is about to
        have: an operation is leased to its acceptor before the commit)."""
        t = models.operations
        free = sa.and_(t.c.finished.is_(False), sa.or_(
            t.c.lease_owner.is_(None), t.c.lease_until < now),
            sa.or_(t.c.lease_owner.is_(None), t.c.lease_owner != owner))
        q = sa.select(t.c.id, t.c.lease_owner).where(free).order_by(
            t.c.not_before).limit(limit + len(exclude))
        if not self.store.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        with self.store.write() as conn:
            previous = {r.id: r.lease_owner for r in conn.execute(q)
                        if r.id not in exclude}
            ids = list(previous)[:limit]
            if not ids:
                return []
            conn.execute(sa.update(t).where(t.c.id.in_(ids), free).values(
                lease_owner=owner, lease_until=lease_until))
            rows = conn.execute(sa.select(t).where(
                t.c.id.in_(ids), t.c.lease_owner == owner))
            ops = [_op_from_row(r) for r in rows]
        for op in ops:
            op.taken_over = previous.get(op.id) is not None
        return ops

    def renew(self, owner: str, lease_until: datetime.datetime) -> None:
        t = models.operations
        with self.store.write() as conn:
            conn.execute(sa.update(t).where(
                t.c.lease_owner == owner, t.c.finished.is_(False)).values(
                lease_until=lease_until))

    def release(self, owner: str) -> None:
        """Give up every lease (clean shutdown): others may take over."""
        t = models.operations
        with self.store.write() as conn:
            conn.execute(sa.update(t).where(t.c.lease_owner == owner).values(
                lease_owner=None, lease_until=None))

    def count_unfinished(self) -> int:
        t = models.operations
        with self.store.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(
                t).where(t.c.finished.is_(False))).scalar_one()

    # -- progress -----------------------------------------------------------

    def apply(self, owner: str, advances: list[Advance],
              now: datetime.datetime | None = None) -> list[str]:
        """Persist a batch of steps; returns ids whose lease was lost."""
        now = now or utcnow()
        lost = []
        with self.store.write() as conn:
            for adv in advances:
                op = adv.op
                res = conn.execute(_FINISH if op.finished else _ADVANCE, dict(
                    b_id=op.id, b_owner=owner, phase=op.phase,
                    state=op.state, attempt=op.attempt,
                    not_before=op.not_before, deadline=op.deadline,
                    finished=op.finished, updated_at=now))
                if res.rowcount != 1:
                    lost.append(op.id)
                    continue
                if adv.record is not None:
                    values = dict(adv.record.values, updated_at=now)
                    keys = tuple(sorted(values))
                    conn.execute(_record_update(op.record_kind, keys),
                                 dict(values, b_id=op.record_id))
                    if adv.record.events:
                        _emit(conn, op.record_kind, op.record_id,
                              adv.record.events, now)
        return lost

    # -- outbox -------------------------------------------------------------

    @contextlib.contextmanager
    def publisher_lock(self) -> Iterator[bool]:
        """Whether this process may publish now: on PostgreSQL one worker
        at a time (an advisory lock), so events leave in id order; a
        SQLite store has one worker."""
        if self.store.is_sqlite:
            yield True
            return
        with self.store.engine.connect() as conn:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": _PUBLISHER_LOCK}).scalar()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"),
                                 {"k": _PUBLISHER_LOCK})
                conn.commit()

    def add_event(self, event_type: str, priority: str, record: dict,
                  now: datetime.datetime) -> None:
        """Queue an event that goes with no status change (a refusal)."""
        row = _event_rows(record, [(event_type, priority)], now)[0]
        row["record_id"] = record.get("id") or ""
        with self.store.write() as conn:
            conn.execute(models.events.insert(), row)

    def pending_events(self, limit: int) -> list[dict]:
        t = models.events
        with self.store.read() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id).limit(limit))
            return [{"id": r.id, "event_type": r.event_type,
                     "priority": r.priority, "record_id": r.record_id,
                     "payload": r.payload} for r in rows]

    def delete_events(self, ids: list[int]) -> None:
        t = models.events
        with self.store.write() as conn:
            conn.execute(sa.delete(t).where(t.c.id.in_(ids)))
