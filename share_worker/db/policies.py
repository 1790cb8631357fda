"""Protection policies in the store, and the claims that make a scheduled
tick fire once across any number of workers::

    policies = PolicyStore(store)
    policies.create(row)          # (record, created) from column values
    policies.get("pol-1", project_id="p1")        # the contract's dict
    for row in policies.due(now):                 # next_run_at <= now
        if policies.claim_tick(row, due, new_next, now, lease_until):
            ...record the tick's checkpoints...
            policies.finish_tick(row.id, due)

A claim is a compare-and-swap on ``next_run_at`` (Karbor's way): of two
workers reading the same due policy, one update matches and the other
changes nothing. The claimed tick stays in ``pending_tick`` until its
checkpoints are recorded; a worker dying midway leaves it to be taken over
when ``pending_until`` passes.
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite

from share_worker import exception
from share_worker.db import models
from share_worker.db.store import Store, isotime

_T = models.policies
#: the fields update_policy may change
WRITABLE = ("name", "enabled", "resources", "schedule", "retention",
            "options", "triggers")
_INSERT_NEW = {
    dialect: insert(_T).on_conflict_do_nothing(
        index_elements=[_T.c.id]).returning(_T.c.id)
    for dialect, insert in (("postgresql", sa_postgresql.insert),
                            ("sqlite", sa_sqlite.insert))}


def policy_dict(row: Any) -> dict:
    """A policy row as the contract's record (DESIGN section 3.1)."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "name": row.name,
        "enabled": row.enabled,
        "resources": row.resources,
        "schedule": row.schedule,
        "retention": row.retention,
        "options": row.options,
        "triggers": row.triggers,
        "next_run_at": isotime(row.next_run_at),
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
    }


class PolicyStore:
    """Policies on top of a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- the RPC methods' records ---------------------------------------------

    def create(self, values: dict) -> tuple[dict, bool]:
        """Insert a policy; (record, created). An id stored already (a
        redelivered create) writes nothing and returns the stored one."""
        with self.store.write() as conn:
            inserted = conn.execute(_INSERT_NEW[conn.dialect.name],
                                    values).first()
            return policy_dict(self._row(conn, values["id"])), \
                inserted is not None

    def get(self, policy_id: str, project_id: str | None = None) -> dict:
        return policy_dict(self.get_row(policy_id, project_id))

    def get_row(self, policy_id: str, project_id: str | None = None) -> Any:
        """The full row (trust id included); never leaves the worker."""
        with self.store.read() as conn:
            return self._row(conn, policy_id, project_id)

    @staticmethod
    def _row(conn: sa.engine.Connection, policy_id: str,
             project_id: str | None = None) -> Any:
        q = sa.select(_T).where(_T.c.id == policy_id)
        if project_id is not None:
            q = q.where(_T.c.project_id == project_id)
        row = conn.execute(q).first()
        if row is None:
            raise exception.PolicyNotFound(policy_id=policy_id)
        return row

    def count(self, project_id: str) -> int:
        """The project's policies."""
        with self.store.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(
                _T).where(_T.c.project_id == project_id)).scalar_one()

    def list(self, project_id: str | None, filters: dict,
             limit: int | None, marker: str | None) -> list:
        columns = {"name": _T.c.name}
        return self.store._list(_T, columns, policy_dict, project_id,
                                filters, limit, marker,
                                exception.PolicyNotFound, "policy_id")

    def update(self, policy_id: str, project_id: str,
               values: dict) -> dict:
        with self.store.write() as conn:
            result = conn.execute(sa.update(_T).where(
                _T.c.id == policy_id, _T.c.project_id == project_id
            ).values(values))
            if result.rowcount != 1:
                raise exception.PolicyNotFound(policy_id=policy_id)
            return policy_dict(self._row(conn, policy_id))

    def delete(self, policy_id: str, project_id: str) -> Any:
        """Remove the policy; returns its row (for its trust)."""
        with self.store.write() as conn:
            row = self._row(conn, policy_id, project_id)
            conn.execute(sa.delete(_T).where(_T.c.id == policy_id))
            return row

    # -- the scheduler --------------------------------------------------------

    def due(self, now: datetime.datetime, limit: int = 100) -> list:
        """Enabled policies whose next tick has come, or whose claimed
        tick was left unfinished past its lease."""
        q = sa.select(_T).where(_T.c.enabled.is_(True), sa.or_(
            sa.and_(_T.c.pending_tick.is_(None), _T.c.next_run_at <= now),
            sa.and_(_T.c.pending_tick.is_not(None),
                    _T.c.pending_until <= now))
        ).order_by(_T.c.next_run_at, _T.c.id).limit(limit)
        with self.store.read() as conn:
            return list(conn.execute(q))

    def soonest(self) -> datetime.datetime | None:
        """When the next tick falls due or pending lease runs out."""
        enabled = _T.c.enabled.is_(True)
        q = sa.select(sa.func.min(_T.c.next_run_at)).where(
            enabled, _T.c.pending_tick.is_(None))
        lq = sa.select(sa.func.min(_T.c.pending_until)).where(
            enabled, _T.c.pending_tick.is_not(None))
        with self.store.read() as conn:
            times = [conn.execute(q).scalar(), conn.execute(lq).scalar()]
        times = [t for t in times if t is not None]
        return min(times) if times else None

    def claim_tick(self, row: Any, new_next: datetime.datetime | None,
                   tick: datetime.datetime | None,
                   lease_until: datetime.datetime) -> bool:
        """Advance *row*'s next_run_at from the value read to *new_next*
        and, when *tick* is set, make it this worker's pending tick.
        False: another worker got there first."""
        values: dict[str, Any] = {"next_run_at": new_next}
        if tick is not None:
            values.update(pending_tick=tick, pending_until=lease_until)
        with self.store.write() as conn:
            result = conn.execute(sa.update(_T).where(
                _T.c.id == row.id, _T.c.next_run_at == row.next_run_at,
                _T.c.pending_tick.is_(None)).values(values))
        return result.rowcount == 1

    def take_over_tick(self, row: Any, now: datetime.datetime,
                       lease_until: datetime.datetime) -> bool:
        """Claim a pending tick whose worker let its lease run out."""
        with self.store.write() as conn:
            result = conn.execute(sa.update(_T).where(
                _T.c.id == row.id, _T.c.pending_tick == row.pending_tick,
                _T.c.pending_until == row.pending_until,
                _T.c.pending_until <= now).values(
                pending_until=lease_until))
        return result.rowcount == 1

    def finish_tick(self, policy_id: str, tick: datetime.datetime) -> None:
        with self.store.write() as conn:
            conn.execute(sa.update(_T).where(
                _T.c.id == policy_id, _T.c.pending_tick == tick).values(
                pending_tick=None, pending_until=None, last_run_at=tick))

    # -- Manila notifications -------------------------------------------------

    def triggered_by(self, project_id: str, event_type: str) -> list:
        """The project's enabled policies listing *event_type*."""
        q = sa.select(_T).where(_T.c.project_id == project_id,
                                _T.c.enabled.is_(True))
        with self.store.read() as conn:
            return [row for row in conn.execute(q)
                    if event_type in (row.triggers or [])]

    def retire_share(self, project_id: str, share_id: str,
                     now: datetime.datetime) -> list[str]:
        """Take a deleted share out of the project's policies that name
        it; returns their ids."""
        retired = []
        with self.store.write() as conn:
            for row in conn.execute(sa.select(_T).where(
                    _T.c.project_id == project_id)):
                ids = (row.resources or {}).get("share_ids")
                if not ids or share_id not in ids:
                    continue
                conn.execute(sa.update(_T).where(_T.c.id == row.id).values(
                    resources={"share_ids": [s for s in ids
                                             if s != share_id]},
                    updated_at=now))
                retired.append(row.id)
        return retired

    # -- retention ------------------------------------------------------------

    def with_retention(self) -> list:
        q = sa.select(_T).where(_T.c.retention.is_not(None))
        with self.store.read() as conn:
            return [row for row in conn.execute(q) if row.retention]

    def landed_since(self, since: datetime.datetime) -> set[str]:
        """Ids of the policies with a checkpoint that became available
        at *since* or later (by its ``updated_at``)."""
        c = models.checkpoints
        q = sa.select(c.c.policy_id).distinct().where(
            c.c.status == "available", c.c.updated_at >= since,
            c.c.policy_id.is_not(None))
        with self.store.read() as conn:
            return {row.policy_id for row in conn.execute(q)}

    def checkpoints_of(self, policy_id: str) -> list:
        """The policy's checkpoints that are not deleted, newest first."""
        c = models.checkpoints
        q = sa.select(c.c.id, c.c.project_id, c.c.resource_id, c.c.status,
                      c.c.created_at).where(
            c.c.policy_id == policy_id,
            c.c.status.not_in(("deleted",))).order_by(
            c.c.created_at.desc(), c.c.id.desc())
        with self.store.read() as conn:
            return list(conn.execute(q))

    def restoring(self, checkpoint_ids: list[str]) -> set[str]:
        """Those of *checkpoint_ids* with a restore in progress."""
        if not checkpoint_ids:
            return set()
        r = models.restores
        q = sa.select(r.c.checkpoint_id).where(
            r.c.checkpoint_id.in_(checkpoint_ids),
            r.c.status == "in_progress")
        with self.store.read() as conn:
            return {row.checkpoint_id for row in conn.execute(q)}

    def protecting(self, policy_id: str, resource_id: str) -> list[str]:
        """Ids of the policy's checkpoints of *resource_id* in progress."""
        c = models.checkpoints
        q = sa.select(c.c.id).where(c.c.policy_id == policy_id,
                                    c.c.resource_id == resource_id,
                                    c.c.status == "protecting")
        with self.store.read() as conn:
            return [r.id for r in conn.execute(q)]
