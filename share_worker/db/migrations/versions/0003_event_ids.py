"""Status events carry an event id and a per-record sequence (payload
1.1): each record counts its status events.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    for table in ("checkpoints", "restores"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("event_seq", sa.Integer,
                                       nullable=False, server_default="0"))
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("event_id", sa.String(64)))
        batch.add_column(sa.Column("sequence", sa.Integer, nullable=False,
                                   server_default="0"))
    # Events waiting in the outbox of an older worker get ids of their own.
    op.execute("UPDATE events SET event_id = 'legacy-' || "
               "CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("events") as batch:
        batch.alter_column("event_id", existing_type=sa.String(64),
                           nullable=False)
    op.create_index("ix_events_event_id", "events", ["event_id"],
                    unique=True)
