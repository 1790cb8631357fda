"""Fixtures of the engine tests: an Engine over a fake Manila and a
SQLite store, started, and stopped after the test."""

import pytest

from share_worker.db.store import Store
from share_worker.engine.service import Engine
from share_worker.plugins.loader import PluginRegistry
from tests.conftest import RecordingSink
from tests.unit import fakes


@pytest.fixture
def manila():
    return fakes.FakeManila()


@pytest.fixture
def make_engine(conf, sqlite_url, manila):
    conf.set_override("poll_interval", 0.05, group="share_worker")
    conf.set_override("retry_backoff", 0.01, group="share_worker")
    engines = []

    def make(clock=None, actor=None, **overrides):
        """*overrides*: [share_worker] options; *clock*, *actor*: the
        Engine's (default the real clock, by auth_strategy)."""
        for key, value in overrides.items():
            conf.set_override(key, value, group="share_worker")
        clients = fakes.FakeClients(manila)
        store = Store.from_url(sqlite_url)
        store.upgrade()
        sink = RecordingSink()
        extra = {"clock": clock} if clock is not None else {}
        engine = Engine(conf, store, PluginRegistry.load(clients), clients,
                        sink=sink, actor=actor, **extra)
        engine.sink = sink
        engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.fixture
def engine(make_engine):
    return make_engine()
