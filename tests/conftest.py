"""Fixtures shared by unit and functional tests.

``db_url`` is parametrised over SQLite and PostgreSQL where a test asks for
``any_db_url``; the PostgreSQL database is created for the run and dropped
after it (server from SHARE_WORKER_TEST_PG, default the local one).
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
import uuid
from collections.abc import Iterator

import jsonschema
import pytest
import sqlalchemy as sa
from oslo_config import cfg
from oslo_config import fixture as config_fixture

from share_worker import conf as sw_conf
from share_worker.testing.waiting import wait_for  # noqa: F401 - for tests

PG_SERVER = os.environ.get("SHARE_WORKER_TEST_PG",
                           "postgresql+psycopg2://postgres@127.0.0.1:5432")
SCHEMAS = pathlib.Path(__file__).resolve().parents[1] / "doc" / "schemas"
_VALIDATORS = {
    name: jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / ("%s-payload.json" % name)).read_text()))
    for name in ("checkpoint", "restore")}
EVENT_TYPES = {
    "share_worker.checkpoint.%s.%s" % (op, phase): "checkpoint"
    for op in ("protect", "delete") for phase in ("start", "end", "error")}
EVENT_TYPES.update({"share_worker.restore.%s" % phase: "restore"
                    for phase in ("start", "end", "error")})


def validate_event(event_type: str, priority: str, payload: dict) -> None:
    """Fail unless the event is one of DESIGN section 4's, its payload
    matches the published JSON Schema and its priority fits."""
    assert event_type in EVENT_TYPES, "unknown event type %s" % event_type
    _VALIDATORS[EVENT_TYPES[event_type]].validate(payload)
    is_error = event_type.endswith(".error")
    assert (payload["error"] is not None) == is_error, (event_type, payload)
    assert priority.upper() == ("ERROR" if is_error else "INFO"), (
        event_type, priority)


class RecordingSink:
    """An event sink that keeps events, JSON round-tripped (as the bus
    would), so an unserialisable payload fails the test."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []
        self._cond = threading.Condition()

    def publish(self, event_type: str, priority: str, payload: dict) -> None:
        payload = json.loads(json.dumps(payload))
        validate_event(event_type, priority, payload)
        with self._cond:
            self.events.append((event_type, priority, payload))
            self._cond.notify_all()

    def for_record(self, record_id: str) -> list[str]:
        with self._cond:
            return [e for e, _, p in self.events if p["id"] == record_id]

    def wait(self, record_id: str, event_type: str,
             timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for etype, _, payload in self.events:
                    if etype == event_type and payload["id"] == record_id:
                        return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no %s for %s within %.1fs; saw %s" % (
                            event_type, record_id, timeout,
                            self.for_record(record_id)))
                self._cond.wait(left)


@pytest.fixture
def conf(tmp_path) -> Iterator[cfg.ConfigOpts]:
    c = cfg.ConfigOpts()
    sw_conf.register_opts(c)
    c([], project="share_worker", default_config_files=[],
      default_config_dirs=[])
    fix = config_fixture.Config(c)
    fix.setUp()
    fix.config(state_path=str(tmp_path), host="test-host")
    # tests run policies every second or two; the 60 s floor has its own
    fix.config(min_schedule_interval=1, group="share_worker")
    # services started in this process keep their engine in it: engine
    # processes would read the command line's configuration, not this
    fix.config(engine_processes=0, group="share_worker")
    yield c
    fix.cleanUp()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL database created for this test run."""
    name = "share_worker_test_%s" % uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_SERVER + "/postgres",
                             isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text('CREATE DATABASE "%s"' % name))
    except sa.exc.OperationalError as e:
        pytest.fail("PostgreSQL at %s is not answering (%s); start it with "
                    "pg_ctlcluster or set SHARE_WORKER_TEST_PG"
                    % (PG_SERVER, e.orig))
    yield PG_SERVER + "/" + name
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                             % name))
    admin.dispose()


def _reset_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql",
                                               marks=pytest.mark.postgres)])
def any_db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return "sqlite:///%s" % (tmp_path / "store.sqlite")
    url = request.getfixturevalue("pg_server")
    _reset_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return "sqlite:///%s" % (tmp_path / "store.sqlite")
