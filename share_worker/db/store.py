"""The durable store: checkpoints, restores, operations, event outbox.

A SQLite file by default, PostgreSQL for several workers::

    store = Store.from_url("sqlite:////var/lib/share_worker/store.sqlite")
    store.upgrade()                    # alembic, to the newest schema
    store.get_checkpoint("cp-1", project_id="p1")

Records leave the store as the wire contract's dicts (DESIGN section 3).
Operation rows are advanced by :mod:`share_worker.db.operations`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig

from share_worker import exception
from share_worker.db import models

LOG = logging.getLogger(__name__)

T = TypeVar("T")

CHECKPOINT_TERMINAL = ("available", "error", "deleted", "error-deleting")
RESTORE_TERMINAL = ("success", "fail")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def isotime(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat(
        timespec="microseconds") + "Z"


def checkpoint_dict(row: Any) -> dict:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "resource": {"type": row.resource_type, "id": row.resource_id,
                     "name": row.resource_name,
                     "extra_info": row.resource_extra},
        "status": row.status,
        "options": row.options,
        "saved_info": row.saved_info,
        "trigger": row.trigger,
        "policy_id": row.policy_id,
        "error": row.error,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
    }


def restore_dict(row: Any) -> dict:
    return {
        "id": row.id,
        "project_id": row.project_id,
        "checkpoint_id": row.checkpoint_id,
        "status": row.status,
        "options": row.options,
        "target": row.target,
        "error": row.error,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
    }


#: what a store that is down, restarting or too busy raises
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError,
               sa.exc.DisconnectionError, sa.exc.TimeoutError)


@contextlib.contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Turn the errors of a store that can't answer now (connection
    refused or lost, a lock or statement timeout, a failover) into
    StoreUnavailable; bugs (integrity, programming errors) pass."""
    try:
        yield
    except UNAVAILABLE as e:
        lines = str(getattr(e, "orig", None) or e).strip().splitlines()
        raise exception.StoreUnavailable(
            reason=lines[0] if lines else type(e).__name__) from e


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Store:
    """Thread-safe access to the store; one instance per process."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise exception.ConfigurationError(
                reason="[database] connection names a %s database; the "
                       "store is SQLite or PostgreSQL" % engine.dialect.name)
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time: serialise our own writers so
        # they queue here instead of spinning on SQLITE_BUSY.
        self._write_lock = (threading.Lock() if self.is_sqlite
                            else contextlib.nullcontext())

    @classmethod
    def from_url(cls, url: str, pool_size: int = 10) -> Store:
        kwargs: dict[str, Any] = {"future": True}
        if url.startswith("sqlite"):
            path = sa.engine.make_url(url).database
            if path and path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)),
                            exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False,
                                      "timeout": 30}
        else:
            # A store that does not answer fails a request in seconds
            # (it is then kept and tried again), never hangs it.
            kwargs.update(pool_size=pool_size, max_overflow=pool_size,
                          pool_pre_ping=True, pool_timeout=10,
                          connect_args={"connect_timeout": 5,
                                        "keepalives": 1,
                                        "keepalives_idle": 10,
                                        "keepalives_interval": 5,
                                        "keepalives_count": 3})
        engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        return cls(engine)

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", os.path.join(
            os.path.dirname(__file__), "migrations"))
        with self.write() as conn:
            cfg.attributes["connection"] = conn
            alembic_command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.engine.Connection]:
        with unavailable_as_error(), self._write_lock, \
                self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.engine.Connection]:
        with unavailable_as_error(), self.engine.connect() as conn:
            yield conn

    def ping(self) -> bool:
        """Whether the store answers now."""
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        except exception.StoreUnavailable:
            return False
        return True

    # -- checkpoints ----------------------------------------------------------

    def get_checkpoint(self, checkpoint_id: str,
                       project_id: str | None = None) -> dict:
        return self._get(models.checkpoints, checkpoint_dict, checkpoint_id,
                         project_id, exception.CheckpointNotFound(
                             checkpoint_id=checkpoint_id))

    def list_checkpoints(self, project_id: str | None, filters: dict,
                         limit: int | None, marker: str | None) -> list:
        t = models.checkpoints
        columns = {"status": t.c.status, "resource_id": t.c.resource_id,
                   "resource_type": t.c.resource_type,
                   "policy_id": t.c.policy_id, "trigger": t.c.trigger}
        return self._list(t, columns, checkpoint_dict, project_id, filters,
                          limit, marker, exception.CheckpointNotFound,
                          "checkpoint_id")

    def get_restore(self, restore_id: str,
                    project_id: str | None = None) -> dict:
        return self._get(models.restores, restore_dict, restore_id,
                         project_id,
                         exception.RestoreNotFound(restore_id=restore_id))

    def _get(self, table: sa.Table, to_dict: Any, record_id: str,
             project_id: str | None, not_found: Exception) -> dict:
        """One record, seen from *project_id* (None: any project)."""
        q = sa.select(table).where(table.c.id == record_id)
        if project_id is not None:
            q = q.where(table.c.project_id == project_id)
        with self.read() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise not_found
        return to_dict(row)

    def list_restores(self, project_id: str | None, filters: dict,
                      limit: int | None, marker: str | None) -> list:
        t = models.restores
        columns = {"status": t.c.status, "checkpoint_id": t.c.checkpoint_id}
        return self._list(t, columns, restore_dict, project_id, filters,
                          limit, marker, exception.RestoreNotFound,
                          "restore_id")

    def _list(self, table: sa.Table, columns: dict, to_dict: Any,
              project_id: str | None, filters: dict, limit: int | None,
              marker: str | None, not_found: type, marker_key: str) -> list:
        unknown = sorted(set(filters) - set(columns) - {"project_id"})
        if unknown:
            raise exception.InvalidInput(
                reason="unknown filter(s) %s; allowed: %s" % (
                    ", ".join(unknown), ", ".join(sorted(columns))))
        q = sa.select(table)
        if project_id is not None:
            q = q.where(table.c.project_id == project_id)
        if filters.get("project_id"):         # narrows, never widens
            q = q.where(table.c.project_id == filters["project_id"])
        for key, column in columns.items():
            if key in filters and filters[key] is not None:
                q = q.where(column == filters[key])
        order = (table.c.created_at.desc(), table.c.id.desc())
        with self.read() as conn:
            if marker is not None:
                mq = sa.select(table.c.created_at, table.c.id).where(
                    table.c.id == marker)
                if project_id is not None:
                    mq = mq.where(table.c.project_id == project_id)
                mrow = conn.execute(mq).first()
                if mrow is None:
                    raise not_found(**{marker_key: marker})
                q = q.where(sa.or_(
                    table.c.created_at < mrow.created_at,
                    sa.and_(table.c.created_at == mrow.created_at,
                            table.c.id < mrow.id)))
            q = q.order_by(*order)
            if limit is not None:
                q = q.limit(limit)
            return [to_dict(r) for r in conn.execute(q)]


class Writer:
    """A connection kept for one writer that commits often (the accept
    committer): no pool checkout, liveness ping and reset around each
    transaction. Calls are serialised::

        writer = Writer(store)
        rows = writer.run(lambda conn: conn.execute(...))   # one transaction
        writer.close()

    A connection the database dropped (a restart, a failover) is
    replaced and the transaction run once more, as the pool's ping would
    have: *work* must be safe to repeat after a failed commit (accepts
    are: an id already stored is not written twice).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._conn: sa.engine.Connection | None = None

    def run(self, work: Callable[[sa.engine.Connection], T]) -> T:
        with unavailable_as_error(), self._lock, self._store._write_lock:
            try:
                return self._once(work)
            except sa.exc.DBAPIError as e:
                if not e.connection_invalidated:
                    raise
                LOG.warning("The store dropped the connection (%s); "
                            "retrying on a new one", e.orig)
            return self._once(work)

    def _once(self, work: Callable[[sa.engine.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._store.engine.connect()
        conn = self._conn
        try:
            with conn.begin():
                return work(conn)
        except BaseException:
            if conn.invalidated:
                self._conn = None
                conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
