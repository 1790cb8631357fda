"""Protection policies.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255)),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("resources", sa.JSON, nullable=False),
        sa.Column("schedule", sa.JSON),
        sa.Column("retention", sa.JSON),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("triggers", sa.JSON, nullable=False),
        sa.Column("next_run_at", sa.DateTime),
        sa.Column("last_run_at", sa.DateTime),
        sa.Column("pending_tick", sa.DateTime),
        sa.Column("pending_until", sa.DateTime),
        sa.Column("trust_id", sa.String(255)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_policies_project_id", "policies", ["project_id"])
    op.create_index("ix_policies_next_run_at", "policies", ["next_run_at"])
    op.create_index("ix_checkpoints_policy_id", "checkpoints",
                    ["policy_id"])
