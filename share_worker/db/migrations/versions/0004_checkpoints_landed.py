"""Checkpoints are found by status and change time: retention runs as
soon as one of a policy's checkpoints becomes available.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_index("ix_checkpoints_landed", "checkpoints",
                    ["status", "updated_at"])
