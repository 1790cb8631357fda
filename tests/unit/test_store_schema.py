"""The migrations make exactly the schema the models describe: a column
or index added to one and not the other fails here."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from share_worker.db import models
from share_worker.db.store import Store


def test_migrations_match_the_models(tmp_path):
    store = Store.from_url("sqlite:///%s" % (tmp_path / "schema.db"))
    try:
        store.upgrade()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn),
                                    models.metadata)
    finally:
        store.dispose()
    assert diff == []
