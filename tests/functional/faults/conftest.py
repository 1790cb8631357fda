"""The fault suite's setting: share-worker processes of their own on the
real RabbitMQ (a vhost of this run, or a private node a test restarts)
and PostgreSQL (a database of this run), the Manila simulator over
HTTP, a bare oslo.messaging client, and an independent listener of the
status events. Every test counts what a user would count
(:mod:`share_worker.testing.audit`): lost, duplicated and orphaned must
be zero."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import oslo_messaging
import pytest

from share_worker import rpcapi
from share_worker.testing.events import EventListener
from share_worker.testing.rabbitmq_node import RabbitNode
from share_worker.testing.worker_process import WorkerProcess, write_config
from tests.conftest import PG_SERVER, _reset_pg, validate_event, wait_for
from tests.functional.conftest import PROJECT, user_ctx

SHARE = "OS::Manila::Share"
ROOT = __file__.rsplit("/tests/", 1)[0]


@pytest.fixture
def pg_url(pg_server) -> str:
    _reset_pg(pg_server)
    return pg_server


class Setting:
    """Where the workers of one test run, and what they are given."""

    def __init__(self, tmp_path: Any, url: str, db_url: str,
                 manila_url: str) -> None:
        self.tmp = tmp_path
        self.url = url
        self.db_url = db_url
        self.manila_url = manila_url
        suffix = uuid.uuid4().hex[:8]
        self.topic = "sw_fault_%s" % suffix
        self.notifications = "notifications_%s" % suffix
        self.workers: list[WorkerProcess] = []
        self.clients: list[rpcapi.ShareWorkerAPI] = []
        self.listeners: list[EventListener] = []
        #: overrides every worker of the test gets, by section
        self.extra: dict[str, dict[str, object]] = {}

    def worker(self, name: str = "w1", url: str | None = None,
               db_url: str | None = None,
               **share_worker: object) -> WorkerProcess:
        sections: dict[str, dict[str, object]] = {
            "DEFAULT": {"transport_url": url or self.url, "host": name,
                        "state_path": self.tmp},
            "share_worker": {"topic": self.topic, "auth_strategy": "noauth",
                             "poll_interval": 0.1, "lease_seconds": 2,
                             "retry_backoff": 0.1, "retry_backoff_max": 1},
            "manila_client": {"endpoint_override": self.manila_url,
                              "timeout": 3},
            "database": {"connection": db_url or self.db_url},
            "oslo_messaging_notifications": {"topics": self.notifications},
            "manila_notifications": {"enabled": False},
        }
        for section, values in self.extra.items():
            sections.setdefault(section, {}).update(values)
        sections["share_worker"].update(share_worker)
        path = write_config(self.tmp / ("%s.conf" % name), sections)
        worker = WorkerProcess(path, self.tmp / ("%s.log" % name), cwd=ROOT)
        self.workers.append(worker)
        return worker

    def client(self, url: str | None = None,
               timeout: int = 10) -> rpcapi.ShareWorkerAPI:
        api = rpcapi.ShareWorkerAPI.from_url(url or self.url,
                                             topic=self.topic,
                                             timeout=timeout)
        self.clients.append(api)
        return api

    def events(self, url: str | None = None,
               durable: bool = False) -> EventListener:
        """Status events seen by a listener of their own, each checked
        against the published schemas."""
        listener = EventListener(url or self.url, self.notifications,
                                 durable, pool="fault-suite",
                                 check=validate_event)
        self.listeners.append(listener)
        return listener

    def wait_ready(self, client: rpcapi.ShareWorkerAPI,
                   worker: WorkerProcess, timeout: float = 60.0) -> None:
        """Until the worker answers a call (its queues exist)."""
        deadline = time.monotonic() + timeout
        while True:
            if not worker.alive:
                raise AssertionError("the worker exited:\n%s"
                                     % worker.log_tail())
            try:
                client._client.prepare(timeout=2).call(
                    user_ctx().to_dict(), "list_protectable_types")
                return
            except oslo_messaging.MessagingTimeout:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "the worker did not answer within %.0f s:\n%s"
                        % (timeout, worker.log_tail())) from None

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        for api in self.clients:
            api.close()
        for listener in self.listeners:
            listener.stop()


@pytest.fixture
def setting(tmp_path, pg_url, rabbit_vhost, sim) -> Iterator[Setting]:
    s = Setting(tmp_path, rabbit_vhost.url, pg_url, sim.url)
    yield s
    s.close()


@pytest.fixture
def rabbit_node() -> Iterator[RabbitNode]:
    """A private RabbitMQ node of this test's own, removed after it."""
    node = RabbitNode()
    try:
        node.start()
        yield node
    finally:
        node.remove()


def proxied(db_url: str, proxy: object) -> str:
    """*db_url* (on the test's PostgreSQL server) through *proxy*."""
    head, _, tail = db_url.rpartition("@")
    database = tail.split("/", 1)[1]
    host = tail.split("/", 1)[0].split(":")[0]
    return "%s@%s:%d/%s" % (head, host, proxy.port, database)


def pg_host_port() -> tuple[str, int]:
    host, port = PG_SERVER.rsplit("@", 1)[1].split(":")
    return host, int(port)


def store_count(db_url: str, sql: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def wait_terminal(db_url: str, count: int, timeout: float = 120.0,
                  worker: WorkerProcess | None = None) -> None:
    """Until *count* checkpoints are in a terminal status."""
    wait_for(lambda: store_count(
        db_url, "SELECT count(*) FROM checkpoints WHERE status IN "
        "('available', 'error', 'deleted', 'error-deleting')") >= count,
        timeout=timeout, interval=0.2,
        what=lambda: "%d terminal checkpoints; %s" % (count, store_count(
            db_url, "SELECT count(*) FROM checkpoints")) + (
            "\n" + worker.log_tail() if worker else ""))


__all__ = ["PROJECT", "SHARE", "Setting", "pg_host_port", "proxied",
           "store_count", "user_ctx", "wait_for", "wait_terminal"]
