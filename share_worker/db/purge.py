"""Purging what no one will read again: deleted checkpoints (with their
restores and operations) and finished operations, once they are older
than ``[share_worker] deleted_retention``::

    purged = purge_batch(store, before=now - retention, batch=500)
    # Purged(checkpoints=500, restores=12, operations=530)

One call removes at most *batch* checkpoints and *batch* finished
operations, in one transaction; several workers purging at once only
share the work.
"""

from __future__ import annotations

import dataclasses
import datetime

import sqlalchemy as sa

from share_worker.db import models
from share_worker.db.store import Store

_CP = models.checkpoints
_RS = models.restores
_OPS = models.operations


@dataclasses.dataclass(frozen=True)
class Purged:
    checkpoints: int = 0
    restores: int = 0
    operations: int = 0

    def __bool__(self) -> bool:
        return bool(self.checkpoints or self.restores or self.operations)


def purge_batch(store: Store, before: datetime.datetime,
                batch: int = 500) -> Purged:
    """Remove up to *batch* checkpoints deleted before *before* (their
    restores and operations with them) and up to *batch* operations
    finished before it."""
    with store.write() as conn:
        ids = [row.id for row in conn.execute(
            sa.select(_CP.c.id).where(_CP.c.status == "deleted",
                                      _CP.c.updated_at < before)
            .order_by(_CP.c.updated_at).limit(batch))]
        restores = operations = 0
        if ids:
            restore_ids = [row.id for row in conn.execute(
                sa.select(_RS.c.id).where(_RS.c.checkpoint_id.in_(ids)))]
            operations += conn.execute(sa.delete(_OPS).where(
                _OPS.c.record_id.in_(ids + restore_ids),
                _OPS.c.finished.is_(True))).rowcount
            restores = conn.execute(sa.delete(_RS).where(
                _RS.c.id.in_(restore_ids))).rowcount if restore_ids else 0
            conn.execute(sa.delete(_CP).where(_CP.c.id.in_(ids)))
        old = [row.id for row in conn.execute(
            sa.select(_OPS.c.id).where(_OPS.c.finished.is_(True),
                                       _OPS.c.updated_at < before)
            .limit(batch))]
        if old:
            operations += conn.execute(sa.delete(_OPS).where(
                _OPS.c.id.in_(old))).rowcount
    return Purged(len(ids), restores, operations)
