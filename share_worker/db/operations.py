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
import datetime
import functools
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite

from share_worker import exception
from share_worker.db import acceptance, models
from share_worker.db.rows import (  # noqa: F401 - re-exported
    TABLES,
    Advance,
    Operation,
    RecordChange,
    emit,
    emit_many,
    event_rows,
    next_sequences,
    op_from_row,
)
from share_worker.db.store import Store, Writer, utcnow

#: PostgreSQL advisory lock key held by the worker publishing the outbox
_PUBLISHER_LOCK = 0x5357_0001

_OPS = models.operations
_OP_FENCE = sa.and_(_OPS.c.id == sa.bindparam("b_id"),
                    _OPS.c.lease_owner == sa.bindparam("b_owner"),
                    _OPS.c.finished.is_(False))
_STEP_COLUMNS = ("phase", "state", "attempt", "not_before", "deadline",
                 "finished", "updated_at")
# A step's result also ends the longer hold a Manila call took (fence).
_ADVANCE = sa.update(_OPS).where(_OP_FENCE).values(
    {name: sa.bindparam(name) for name in _STEP_COLUMNS + ("lease_until",)})
_FINISH = sa.update(_OPS).where(_OP_FENCE).values(
    {name: sa.bindparam(name) for name in _STEP_COLUMNS}).values(
    auth_token=None, lease_owner=None, lease_until=None)
#: which of some operations an owner still holds
_HELD = sa.select(_OPS.c.id).where(
    _OPS.c.id.in_(sa.bindparam("ids", expanding=True)),
    _OPS.c.lease_owner == sa.bindparam("owner"),
    _OPS.c.finished.is_(False))
_RECORD_UPDATES: dict[tuple, sa.Update] = {}
#: most ids named in one statement
_CHUNK = 1000
#: an event whose id is queued already (a redelivered refusal) is not
#: queued twice
_INSERT_EVENT = {
    dialect: insert(models.events).on_conflict_do_nothing(
        index_elements=[models.events.c.event_id])
    for dialect, insert in (("postgresql", sa_postgresql.insert),
                            ("sqlite", sa_sqlite.insert))}


def _chunks(ids: list[str]) -> list[list[str]]:
    """*ids* in runs of at most :data:`_CHUNK`, for ``IN`` lists."""
    return [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _record_update(kind: str, keys: tuple) -> sa.Update:
    stmt = _RECORD_UPDATES.get((kind,) + keys)
    if stmt is None:
        table, _ = TABLES[kind]
        stmt = sa.update(table).where(
            table.c.id == sa.bindparam("b_id")).values(
            {k: sa.bindparam(k) for k in keys})
        _RECORD_UPDATES[(kind,) + keys] = stmt
    return stmt


class OperationStore:
    """Operations and the outbox, on top of a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- acceptance (share_worker.db.acceptance) ---------------------------

    def accept(self, kind: str, record: dict, op: Operation,
               event_type: str) -> tuple[dict, bool]:
        """Insert a new record and its operation; (record, created).

        When the record id exists already, nothing is written and the
        existing record comes back with ``created`` False.
        """
        result = self.accept_many([acceptance.Acceptance(
            kind, record, op, event_type)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def accept_many(self, items: list[acceptance.Acceptance],
                    writer: Writer | None = None) -> list:
        """:meth:`accept` for several records in one transaction, on
        *writer*'s connection if given; an item refused (a restore of a
        checkpoint no longer available) is answered with its error."""
        if writer is not None:
            return writer.run(functools.partial(acceptance.accept_many,
                                                 items=items))
        with self.store.write() as conn:
            return acceptance.accept_many(conn, items)

    def accept_delete(self, checkpoint_id: str, project_id: str,
                      allowed: tuple[str, ...], op: Operation,
                      event_type: str) -> tuple[dict, bool]:
        """Move a checkpoint to ``deleting`` (compare-and-swap) + operation.

        Returns (checkpoint, created); a checkpoint already deleting or
        deleted comes back unchanged with ``created`` False.
        """
        return acceptance.accept_delete(self.store, checkpoint_id,
                                        project_id, allowed, op, event_type)

    # -- leases -------------------------------------------------------------

    def claim(self, owner: str, now: datetime.datetime,
              lease_until: datetime.datetime, limit: int,
              exclude: set[str] = frozenset()) -> list[Operation]:
        """Take up to *limit* unfinished operations nobody holds (or
        whose lease lapsed, this owner's own included: it let go of
        them); *exclude* are the ones the caller has in memory (or is
        about to have: an operation is leased to its acceptor before
        the commit, so its lease is fresh)."""
        t = models.operations
        free = sa.and_(t.c.finished.is_(False), sa.or_(
            t.c.lease_owner.is_(None), t.c.lease_until < now))
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
            ops = [op_from_row(r) for r in rows]
        for op in ops:
            op.taken_over = previous.get(op.id) is not None
        return ops

    def renew(self, owner: str, now: datetime.datetime,
              lease_until: datetime.datetime,
              op_ids: set[str] | None = None) -> set[str]:
        """Extend *owner*'s leases that have not lapsed (a longer hold
        taken for a Manila call stays), of *op_ids* only if given (the
        operations the caller holds: one it let go of lapses, to be
        claimed again as taken over); the ids renewed.

        Rows are locked in id order, as :meth:`apply` locks them, so a
        renewal and a batch of steps never deadlock."""
        t = models.operations
        live = [t.c.lease_owner == owner, t.c.finished.is_(False),
                t.c.lease_until >= now]
        chunks: list[list[str] | None] = [None]
        if op_ids is not None:
            ordered = sorted(op_ids)
            chunks = _chunks(ordered)
        renewed: set[str] = set()
        with self.store.write() as conn:
            for chunk in chunks:
                where = list(live)
                if chunk is not None:
                    where.append(t.c.id.in_(chunk))
                q = sa.select(t.c.id).where(*where).order_by(t.c.id)
                if not self.store.is_sqlite:
                    q = q.with_for_update()
                ids = [row.id for row in conn.execute(q)]
                if not ids:
                    continue
                conn.execute(sa.update(t).where(t.c.id.in_(ids)).values(
                    lease_until=sa.case((t.c.lease_until > lease_until,
                                         t.c.lease_until),
                                        else_=lease_until)))
                renewed.update(ids)
        return renewed

    def fence(self, op_id: str, owner: str, now: datetime.datetime,
              hold_until: datetime.datetime) -> bool:
        """Whether *owner* still holds *op_id* (its lease not lapsed); if
        so its lease is held until at least *hold_until*."""
        return self.fence_many([(op_id, owner, now, hold_until)])[0]

    def fence_many(self, fences: list[tuple[str, str, datetime.datetime,
                                            datetime.datetime]]
                   ) -> list[bool]:
        """:meth:`fence` for each (op_id, owner, now, hold_until), all in
        one transaction: the store checks each operation's lease (its
        own row's owner, finish and expiry), one UPDATE per (owner, now,
        hold_until) that answers which of its rows it held."""
        t = models.operations
        groups: dict[tuple, list[str]] = {}
        for op_id, owner, now, hold_until in fences:
            groups.setdefault((owner, now, hold_until), []).append(op_id)
        held: set[tuple] = set()
        with self.store.write() as conn:
            for (owner, now, hold_until), ids in groups.items():
                rows = conn.execute(sa.update(t).where(
                    t.c.id.in_(ids), t.c.lease_owner == owner,
                    t.c.finished.is_(False), t.c.lease_until >= now).values(
                    lease_until=sa.case((t.c.lease_until > hold_until,
                                         t.c.lease_until),
                                        else_=hold_until)).returning(t.c.id))
                held.update((op_id, owner, now, hold_until)
                            for op_id in rows.scalars())
        return [fence in held for fence in fences]

    def release(self, owner: str, keep: set[str] = frozenset()) -> None:
        """Give up every lease but those of *keep* (clean shutdown):
        others may take over at once."""
        t = models.operations
        where = [t.c.lease_owner == owner]
        if keep:
            where.append(t.c.id.not_in(list(keep)))
        with self.store.write() as conn:
            conn.execute(sa.update(t).where(*where).values(
                lease_owner=None, lease_until=None))

    def count_unfinished(self, project_id: str | None = None) -> int:
        """Operations not finished (of *project_id*, if given)."""
        t = models.operations
        q = sa.select(sa.func.count()).select_from(t).where(
            t.c.finished.is_(False))
        if project_id is not None:
            q = q.where(t.c.project_id == project_id)
        with self.store.read() as conn:
            return conn.execute(q).scalar_one()

    # -- progress -----------------------------------------------------------

    def apply(self, owner: str, advances: list[Advance],
              now: datetime.datetime | None = None,
              lease_until: datetime.datetime | None = None) -> list[str]:
        """Persist a batch of steps, leases renewed to *lease_until*
        (default now + 30 s); returns ids whose lease was lost."""
        now = now or utcnow()
        lease_until = lease_until or now + datetime.timedelta(seconds=30)
        with self.store.write() as conn:
            # in id order, as renew() locks them: no deadlock between them
            ordered = sorted(advances, key=lambda a: a.op.id)
            lost = self._step_ops(conn, owner, ordered, now, lease_until)
            kept = [a for a in ordered
                    if a.record is not None and a.op.id not in lost]
            updates: dict[tuple, list[dict]] = {}
            for adv in kept:
                values = dict(adv.record.values, updated_at=now)
                keys = tuple(sorted(values))
                updates.setdefault((adv.op.record_kind, keys), []).append(
                    dict(values, b_id=adv.op.record_id))
            for (kind, keys), rows in updates.items():
                conn.execute(_record_update(kind, keys), rows)
            changes = [(a.op.record_kind, a.op.record_id, a.record.events)
                       for a in kept if a.record.events]
            if changes:
                emit_many(conn, changes, now)
        return [a.op.id for a in ordered if a.op.id in lost]

    @staticmethod
    def _step_ops(conn: sa.engine.Connection, owner: str,
                  ordered: list[Advance], now: datetime.datetime,
                  lease_until: datetime.datetime) -> set[str]:
        """Write the operations' new state where *owner* still holds
        them; the ids where it does not.

        PostgreSQL: row by row in id order (row locks taken in the
        order renew() takes them). SQLite (one write lock, no row
        locks): the rows still held are read first, then written with
        one executemany per statement, so a batch makes a few calls
        into the driver instead of one per row (each call gives the GIL
        away and waits to get it back, which a busy process makes
        slow). A row that changed between the read and the write makes
        the whole batch fail; its steps are kept and written again."""
        items = []
        for adv in ordered:
            op = adv.op
            values = dict(
                b_id=op.id, b_owner=owner, phase=op.phase,
                state=op.state, attempt=op.attempt,
                not_before=op.not_before, deadline=op.deadline,
                finished=op.finished, updated_at=now)
            if not op.finished:
                values["lease_until"] = lease_until
            items.append((op.id, _FINISH if op.finished else _ADVANCE,
                          values))
        if conn.dialect.name != "sqlite" or len(items) < 2:
            return {op_id for op_id, stmt, values in items
                    if conn.execute(stmt, values).rowcount != 1}
        held: set[str] = set()
        ids = [op_id for op_id, _, _ in items]
        for chunk in _chunks(ids):
            held.update(conn.execute(_HELD, {
                "ids": chunk, "owner": owner}).scalars())
        for stmt in (_ADVANCE, _FINISH):
            batch = [values for op_id, s, values in items
                     if s is stmt and op_id in held]
            if batch and conn.execute(stmt, batch).rowcount != len(batch):
                raise exception.StoreUnavailable(
                    reason="operations changed while their steps were "
                           "written; writing them again")
        return set(ids) - held

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
                  now: datetime.datetime, event_id: str | None = None,
                  about: tuple[str, str] | None = None) -> None:
        """Queue an event that goes with no status change (a refusal);
        *about* (kind, id) names the stored record it is about, whose
        sequence it takes the next number of."""
        with self.store.write() as conn:
            last = 0
            if about is not None:
                last = next_sequences(conn, *about, 1).event_seq
            row = event_rows(record, [(event_type, priority)], now, last,
                             [event_id] if event_id else None)[0]
            conn.execute(_INSERT_EVENT[conn.dialect.name], row)

    def pending_events(self, limit: int) -> list[dict]:
        t = models.events
        with self.store.read() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id).limit(limit))
            return [{"id": r.id, "event_type": r.event_type,
                     "priority": r.priority, "record_id": r.record_id,
                     "payload": r.payload, "event_id": r.event_id,
                     "sequence": r.sequence} for r in rows]

    def delete_events(self, ids: list[int]) -> None:
        t = models.events
        with self.store.write() as conn:
            conn.execute(sa.delete(t).where(t.c.id.in_(ids)))
