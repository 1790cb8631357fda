"""New records: a checkpoint or restore, its operation and its ``.start``
event, written in one transaction; several of them in one transaction
when requests arrive together (group commit, see
:mod:`share_worker.engine.committer`)::

    with store.write() as conn:
        results = accept_many(conn, [
            Acceptance("checkpoint", record, op, "share_worker.checkpoint"
                       ".protect.start"), ...])
    # [(checkpoint dict, created), ...] in the same order

A record id that exists already (a repeated idempotent request) writes
nothing and returns the stored record with ``created`` False; so does a
second request for the same id in one batch, which gets the first one's.

A restore is recorded only while its checkpoint is ``available``, and a
checkpoint goes to ``deleting`` only while no restore of it is in
progress: each check and its write are one transaction holding the
checkpoint's row (``FOR UPDATE`` on PostgreSQL; SQLite has one writer),
so a delete and a restore can't both get past them (invariant 11). An
item refused so is answered with its ``InvalidState`` in place of a
result.
"""

from __future__ import annotations

import dataclasses
import types

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite

from share_worker import exception
from share_worker.db import models
from share_worker.db.rows import TABLES, Operation, emit, event_rows, op_values
from share_worker.db.store import Store, checkpoint_dict


@dataclasses.dataclass
class Acceptance:
    """One new record to write: its kind (``checkpoint`` or ``restore``),
    its column values, its operation and the type of its start event;
    *summary* is what the log says of it once it is recorded."""

    kind: str
    record: dict
    op: Operation
    event_type: str
    summary: str = ""


# Built once (see rows.SELECT_BY_ID).
_SELECT_IDS = {kind: sa.select(t).where(
    t.c.id.in_(sa.bindparam("ids", expanding=True)))
    for kind, (t, _) in TABLES.items()}
_INSERT_NEW = {
    (dialect, kind): insert(t).on_conflict_do_nothing(
        index_elements=[t.c.id]).returning(t.c.id)
    for dialect, insert in (("postgresql", sa_postgresql.insert),
                            ("sqlite", sa_sqlite.insert))
    for kind, (t, _) in TABLES.items()}
_INSERT_OPS = models.operations.insert()
_INSERT_EVENTS = models.events.insert()


def accept_many(conn: sa.engine.Connection, items: list[Acceptance]
                ) -> list[tuple[dict, bool] | exception.InvalidState]:
    """Write the new ones of *items* in the transaction of *conn*;
    returns (record, created) per item, in order, or the InvalidState a
    restore of a checkpoint that is no longer available is refused with.

    A record is inserted unless its id is stored (``ON CONFLICT DO
    NOTHING``, so a concurrent writer of the same id waits for it rather
    than failing); only the inserted ones get their operation and event.
    """
    refused = _unrestorable(conn, items)
    firsts: dict[tuple[str, str], int] = {}
    records: dict[tuple, list[dict]] = {}
    for index, item in enumerate(items):
        key = (item.kind, item.record["id"])
        if index in refused:
            continue
        if key not in firsts:
            firsts[key] = index
            # executemany wants one set of keys per statement; the
            # .start event is the record's first
            records.setdefault((item.kind, *item.record), []).append(
                dict(item.record, event_seq=1))
    inserted = set()
    for (kind, *_), rows in records.items():
        statement = _INSERT_NEW[conn.dialect.name, kind]
        inserted.update((kind, row.id) for row in conn.execute(statement,
                                                                rows))
    results: list[tuple[dict, bool] | None] = [None] * len(items)
    ops, events = [], []
    for key, index in firsts.items():
        if key in inserted:
            item = items[index]
            created = TABLES[item.kind][1](types.SimpleNamespace(
                **item.record))
            results[index] = (created, True)
            ops.append(op_values(item.op))
            events.extend(event_rows(created, [(item.event_type, "INFO")],
                                     item.op.created_at, last_sequence=1))
    if ops:
        conn.execute(_INSERT_OPS, ops)
        conn.execute(_INSERT_EVENTS, events)
    stored = _stored(conn, [key for key in firsts if key not in inserted])
    for index, item in enumerate(items):
        if index in refused:
            results[index] = refused[index]
        elif results[index] is None:
            key = (item.kind, item.record["id"])
            first = results[firsts[key]]
            results[index] = (first[0] if first else stored[key], False)
    return results


def _unrestorable(conn: sa.engine.Connection, items: list[Acceptance]
                  ) -> dict[int, exception.InvalidState]:
    """The restores of *items* whose checkpoint is no longer available,
    by index; their checkpoints' rows stay locked to the commit."""
    wanted = sorted({item.record["checkpoint_id"] for item in items
                     if item.kind == "restore"})
    if not wanted:
        return {}
    t = models.checkpoints
    status = {row.id: row.status for row in conn.execute(
        sa.select(t.c.id, t.c.status).where(t.c.id.in_(wanted))
        .order_by(t.c.id).with_for_update())}
    refused = {}
    for index, item in enumerate(items):
        cid = item.record.get("checkpoint_id")
        if item.kind == "restore" and status.get(cid) != "available":
            refused[index] = exception.InvalidState(
                reason="checkpoint %s is %s; only an available checkpoint "
                       "can be restored" % (cid, status.get(cid, "gone")))
    return refused


def _stored(conn: sa.engine.Connection, keys: list[tuple[str, str]]
            ) -> dict[tuple[str, str], dict]:
    """The stored records of *keys* (kind, id), which must exist."""
    wanted: dict[str, list[str]] = {}
    for kind, record_id in keys:
        wanted.setdefault(kind, []).append(record_id)
    stored = {}
    for kind, ids in wanted.items():
        to_dict = TABLES[kind][1]
        for row in conn.execute(_SELECT_IDS[kind], {"ids": ids}):
            stored[kind, row.id] = to_dict(row)
    missing = [rid for kind, rid in keys if (kind, rid) not in stored]
    if missing:
        # The conflicting row went away before we could read it.
        raise exception.InvalidState(
            reason="record(s) %s changed while being recorded; retry"
                   % ", ".join(missing))
    return stored


def accept_delete(store: Store, checkpoint_id: str, project_id: str,
                  allowed: tuple[str, ...], op: Operation,
                  event_type: str) -> tuple[dict, bool]:
    """Move a checkpoint to ``deleting`` (compare-and-swap) + operation.

    Returns (checkpoint, created); a checkpoint already deleting or
    deleted comes back unchanged with ``created`` False.
    """
    t = models.checkpoints
    r = models.restores
    now = op.created_at
    with store.write() as conn:
        row = conn.execute(sa.select(t).where(
            t.c.id == checkpoint_id, t.c.project_id == project_id)
            .with_for_update()).first()
        if row is None:
            raise exception.CheckpointNotFound(checkpoint_id=checkpoint_id)
        if row.status in ("deleting", "deleted"):
            return checkpoint_dict(row), False
        if row.status not in allowed:
            raise exception.InvalidState(
                reason="checkpoint %s is %s; it can be deleted when it is "
                       "one of %s" % (checkpoint_id, row.status,
                                      ", ".join(allowed)))
        restoring = conn.execute(sa.select(r.c.id).where(
            r.c.checkpoint_id == checkpoint_id,
            r.c.status == "in_progress").limit(1)).first()
        if restoring is not None:
            raise exception.InvalidState(
                reason="checkpoint %s has a restore in progress (restore "
                       "%s); it can be deleted once the restore ends"
                       % (checkpoint_id, restoring.id))
        done = conn.execute(sa.update(t).where(
            t.c.id == checkpoint_id, t.c.status == row.status).values(
            status="deleting", error=None, updated_at=now))
        if done.rowcount != 1:
            raise exception.InvalidState(
                reason="checkpoint %s changed status meanwhile; retry"
                       % checkpoint_id)
        op.state.setdefault("saved_info", row.saved_info)
        conn.execute(_INSERT_OPS, op_values(op))
        return emit(conn, "checkpoint", checkpoint_id,
                    [(event_type, "INFO")], now), True
