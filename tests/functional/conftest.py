"""Functional fixtures: the Manila simulator over HTTP and real engines."""

from __future__ import annotations

import pytest
from oslo_context import context as o_context

from share_worker import service
from share_worker.simulator.fixture import SimulatorFixture
from tests.conftest import RecordingSink

PROJECT = "proj-a"


@pytest.fixture
def sim():
    with SimulatorFixture() as fx:
        yield fx


def user_ctx(project: str = PROJECT) -> o_context.RequestContext:
    return o_context.RequestContext(user_id="user-1", project_id=project,
                                    request_id="req-test")


@pytest.fixture
def engine_conf(conf, sim, any_db_url):
    """Worker configuration: noauth against the simulator, fast polls."""
    conf.set_override("auth_strategy", "noauth", group="share_worker")
    conf.set_override("endpoint_override", sim.url, group="manila_client")
    conf.set_override("connection", any_db_url, group="database")
    for key, value in {"poll_interval": 0.05, "retry_backoff": 0.02,
                       "lease_seconds": 3}.items():
        conf.set_override(key, value, group="share_worker")
    return conf


@pytest.fixture
def make_engine(engine_conf):
    engines = []

    def make(**overrides):
        for key, value in overrides.items():
            engine_conf.set_override(key, value, group="share_worker")
        sink = RecordingSink()
        engine = service.build_engine(engine_conf, sink=sink)
        engine.sink = sink
        engine.start()
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop()
        engine.store.dispose()


@pytest.fixture
def engine(make_engine):
    return make_engine()
