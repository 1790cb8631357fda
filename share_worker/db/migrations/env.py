"""Alembic environment: runs against the connection the store hands in."""

from alembic import context

from share_worker.db import models

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=models.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
