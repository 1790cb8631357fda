"""The store's tables (SQLAlchemy Core), shared by the store and migrations.

The alembic migrations under ``migrations/versions`` create exactly these;
a test compares the two so they cannot drift::

    from share_worker.db import models
    models.metadata.sorted_tables
"""

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
})

_ID = 64

checkpoints = sa.Table(
    "checkpoints", metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("user_id", sa.String(255)),
    sa.Column("resource_type", sa.String(255), nullable=False),
    sa.Column("resource_id", sa.String(255), nullable=False, index=True),
    sa.Column("resource_name", sa.String(255)),
    sa.Column("resource_extra", sa.JSON, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("saved_info", sa.JSON, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("policy_id", sa.String(_ID), index=True),
    sa.Column("error", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    # How many status events the record has had: the sequence of its
    # latest one (DESIGN section 4).
    sa.Column("event_seq", sa.Integer, nullable=False, server_default="0"),
    # the checkpoints that became available lately (prompt retention)
    sa.Index("ix_checkpoints_landed", "status", "updated_at"),
)

restores = sa.Table(
    "restores", metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("user_id", sa.String(255)),
    sa.Column("checkpoint_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("target", sa.JSON, nullable=False),
    sa.Column("error", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("event_seq", sa.Integer, nullable=False, server_default="0"),
)

# One row per protect / restore / delete; the reconciler advances it.
operations = sa.Table(
    "operations", metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("record_id", sa.String(_ID), nullable=False, index=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("resource_type", sa.String(255), nullable=False),
    sa.Column("phase", sa.String(32), nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    # The caller's token, kept only while the operation runs.
    sa.Column("auth_token", sa.Text),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("not_before", sa.DateTime, nullable=False),
    sa.Column("deadline", sa.DateTime, nullable=False),
    sa.Column("lease_owner", sa.String(255)),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("finished", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_operations_due", "finished", "not_before"),
)

# Transactional outbox: a status change and its notification commit
# together; the publisher drains rows in id order and deletes a row only
# once the broker confirmed its message. event_id names the status change
# on every (re)delivery; sequence counts the record's status events (0:
# an event about no stored record, a refused request).
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("event_type", sa.String(255), nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("record_id", sa.String(_ID), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("event_id", sa.String(_ID), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_events_event_id", "event_id", unique=True),
)

# Protection policies (contract 1.1). A scheduled tick is claimed by
# compare-and-swap on next_run_at; pending_tick marks a claimed tick whose
# checkpoints are still being recorded, so a worker that dies midway is
# taken over (the tick's checkpoint ids are derived from it: no duplicates).
policies = sa.Table(
    "policies", metadata,
    sa.Column("id", sa.String(_ID), primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False, index=True),
    sa.Column("user_id", sa.String(255)),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("resources", sa.JSON, nullable=False),
    sa.Column("schedule", sa.JSON),
    sa.Column("retention", sa.JSON),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("triggers", sa.JSON, nullable=False),
    sa.Column("next_run_at", sa.DateTime, index=True),
    sa.Column("last_run_at", sa.DateTime),
    sa.Column("pending_tick", sa.DateTime),
    sa.Column("pending_until", sa.DateTime),
    # Keystone trust from the creator to the worker's service user.
    sa.Column("trust_id", sa.String(255)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
