"""Functional fixtures: the Manila simulator over HTTP and real engines."""

from __future__ import annotations

import threading
import time
import uuid

import oslo_messaging
import pytest
from oslo_context import context as o_context

from share_worker import messaging, rpcapi, service
from share_worker.simulator.fixture import SimulatorFixture
from share_worker.testing.rabbitmq import VirtualHost
from tests.conftest import RecordingSink, validate_event

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


# -- RabbitMQ: a vhost per test session, a topic per test ------------------

@pytest.fixture(scope="session")
def rabbit_vhost():
    with VirtualHost() as vhost:
        yield vhost


class EventCollector:
    """An independent notification listener (its own transport and pool)
    that checks every event against the published schemas."""

    def __init__(self, conf, topic: str) -> None:
        self.events: list[tuple[str, str, str, dict]] = []
        self._cond = threading.Condition()
        self.transport = messaging.notification_transport(conf)
        target = oslo_messaging.Target(exchange=conf.control_exchange,
                                       topic=topic)
        self.listener = oslo_messaging.get_notification_listener(
            self.transport, [target], [self], executor="threading",
            # the queue of a pool is named after the pool alone: one of
            # this test's topic, not every test's (a later test would get
            # the events an earlier one's worker published as it stopped)
            pool="test-collector.%s" % topic)

    def _event(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._cond:
            self.events.append((publisher_id, event_type,
                                metadata.get("priority", ""), payload))
            self._cond.notify_all()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        validate_event(event_type, "INFO", payload)
        self._event(ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        validate_event(event_type, "ERROR", payload)
        self._event(ctxt, publisher_id, event_type, payload, metadata)

    def for_record(self, record_id):
        with self._cond:
            return [e for _, e, _, p in self.events if p["id"] == record_id]

    def wait_count(self, count, timeout=20.0):
        """The events once there are at least *count* of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d events, not %d, within %.0f s"
                                         % (len(self.events), count,
                                            timeout))
                self._cond.wait(left)
            return list(self.events)

    def wait(self, record_id, event_type, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for _, etype, _, payload in self.events:
                    if etype == event_type and payload["id"] == record_id:
                        return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s for %s within %.0fs; saw %s"
                                         % (event_type, record_id, timeout,
                                            self.for_record(record_id)))
                self._cond.wait(left)

    def stop(self):
        self.listener.stop()
        self.listener.wait()
        self.transport.cleanup()


@pytest.fixture
def worker_conf(engine_conf, rabbit_vhost):
    """engine_conf plus messaging on the session's vhost, with a topic
    and a notifications topic of this test's own."""
    messaging.register_opts(engine_conf)
    suffix = uuid.uuid4().hex[:8]
    engine_conf.set_override("transport_url", rabbit_vhost.url)
    engine_conf.set_override("topic", "share_worker_%s" % suffix,
                             group="share_worker")
    engine_conf.set_override("topics", ["notifications_%s" % suffix],
                             group="oslo_messaging_notifications")
    # Manila's notifications (exchange openstack) on a topic of its own.
    engine_conf.set_override("topics", ["manila_notifications_%s" % suffix],
                             group="manila_notifications")
    return engine_conf


@pytest.fixture
def events(worker_conf):
    collector = EventCollector(
        worker_conf, worker_conf.oslo_messaging_notifications.topics[0])
    collector.listener.start()
    yield collector
    collector.stop()


@pytest.fixture
def start_service(worker_conf, events):
    services = []

    def start(**overrides):
        for key, value in overrides.items():
            worker_conf.set_override(key, value, group="share_worker")
        svc = service.WorkerService(worker_conf)
        svc.start()
        services.append(svc)
        return svc

    yield start
    for svc in services:
        svc.stop()


@pytest.fixture
def rpc(worker_conf, rabbit_vhost):
    api = rpcapi.ShareWorkerAPI.from_url(
        rabbit_vhost.url, topic=worker_conf.share_worker.topic, timeout=30)
    yield api
    api.close()
