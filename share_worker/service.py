"""Service wiring: builds the store, plugins, Manila clients, engine,
RPC server and notifier from one ``ConfigOpts``::

    conf = cfg.ConfigOpts()
    share_worker.conf.register_opts(conf)
    messaging.register_opts(conf)
    conf(["--config-file", "share_worker.conf"])
    worker = WorkerService(conf)
    worker.start()
    ...
    worker.stop()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from oslo_config import cfg

from share_worker import exception, messaging
from share_worker.authorization import Authorizer
from share_worker.clients.keystone import TokenValidator
from share_worker.clients.manila import ManilaClientFactory
from share_worker.db.store import Store
from share_worker.endpoints.manila_notifications import (
    ManilaNotificationEndpoint,
)
from share_worker.endpoints.policies import PolicyEndpoint
from share_worker.endpoints.protectables import ProtectablesEndpoint
from share_worker.endpoints.protection import ProtectionEndpoint
from share_worker.engine.outbox import EventSink
from share_worker.engine.service import Engine
from share_worker.plugins.loader import PluginRegistry
from share_worker.scheduler.runner import Scheduler
from share_worker.supervisor import EngineProcesses

LOG = logging.getLogger(__name__)

#: seconds between two looks of the outbox for the status events another
#: process recorded (its own go out at once), with engine processes: a
#: status event is published at most this much later
ENGINE_EVENTS_LOOK = 0.1
#: longest the worker waits at start for its engine processes to run
#: before it takes requests (they are recorded meanwhile all the same)
ENGINE_START_WAIT = 30.0


def database_url(conf: cfg.ConfigOpts) -> str:
    """``[database] connection``, or the SQLite file under state_path."""
    if conf.database.connection:
        return conf.database.connection
    path = os.path.join(conf.state_path, "share_worker.sqlite")
    return "sqlite:///" + os.path.abspath(path)


def build_store(conf: cfg.ConfigOpts) -> Store:
    store = Store.from_url(database_url(conf),
                           pool_size=conf.database.pool_size)
    if conf.database.auto_migrate:
        store.upgrade()
    return store


def build_engine(conf: cfg.ConfigOpts, sink: EventSink | None = None,
                 check_manila: bool = True) -> Engine:
    """Store + plugins + clients; raises ConfigurationError or
    PluginLoadError with a clear message when they can't work."""
    clients = ManilaClientFactory(conf)
    if check_manila:
        clients.check_config()
    registry = PluginRegistry.load(clients)
    store = build_store(conf)
    return Engine(conf, store, registry, clients, sink=sink)


def engines_publish(conf: cfg.ConfigOpts) -> bool:
    """Who publishes the status events when there are engine processes:
    with PostgreSQL they do, at their idle CPU priority, and the
    share-worker process spends its CPU on requests only; with SQLite
    (engine processes only niced) the share-worker process does, and
    the engine process's CPU goes to Manila work."""
    return bool(conf.share_worker.engine_processes) and \
        not database_url(conf).startswith("sqlite")


def build_engine_process(conf: cfg.ConfigOpts) -> Engine:
    """The engine of an engine process: it advances operations, and
    publishes the status events if :func:`engines_publish`."""
    if engines_publish(conf):
        return build_engine(conf, sink=messaging.event_sink(conf))
    return build_engine(conf)


class WorkerService:
    """The share-worker process: engine + RPC server + status notifier.

    ``start()`` resumes the store's in-flight operations and starts
    consuming; ``stop()`` stops consuming (requests not yet recorded go
    back to their queue), lets running RPC handlers end, then stops the
    engine, whose unfinished operations stay in the store for the next
    start (or another worker), all within ``shutdown_timeout``.
    """

    def __init__(self, conf: cfg.ConfigOpts,
                 argv: Sequence[str] = ()) -> None:
        self.conf = conf
        self.engine_processes = None
        if conf.share_worker.engine_processes:
            if database_url(conf).startswith("sqlite") and \
                    conf.share_worker.engine_processes > 1:
                raise exception.ConfigurationError(
                    reason="[share_worker] engine_processes = %d needs a "
                           "PostgreSQL [database] connection; a SQLite "
                           "store takes at most 1"
                           % conf.share_worker.engine_processes)
            self.engine_processes = EngineProcesses(conf, argv)
        self.sink = messaging.event_sink(conf)
        self.engine = build_engine(conf, sink=self.sink)
        strategy = conf.share_worker.auth_strategy
        tokens = None
        if strategy == "keystone":
            tokens = TokenValidator(self.engine.clients.service_session,
                                    conf.share_worker.token_cache_seconds)
        authorizer = Authorizer(conf)
        authorizer.check_policy_file()
        endpoints = [cls(self.engine, strategy, tokens, authorizer)
                     for cls in (ProtectionEndpoint, ProtectablesEndpoint,
                                 PolicyEndpoint)]
        self.server = messaging.rpc_server(conf, endpoints)
        # Callers wait for their requests' records; status events (which
        # nobody waits on as long) go out when none is in hand, within
        # outbox.MAX_DEFER whatever the load.
        self.engine.outbox.defer = lambda: self.server.consumer.in_hand > 0
        self.scheduler = Scheduler(self.engine, conf)
        self.listener = None
        if conf.manila_notifications.enabled:
            self.listener = messaging.manila_notification_listener(
                conf, ManilaNotificationEndpoint(self.engine))

    def start(self) -> None:
        if self.engine_processes is None:
            self.engine.start()
        else:
            self.engine.start(run_operations=False,
                              publish=not engines_publish(self.conf),
                              event_interval=ENGINE_EVENTS_LOOK)
            self.engine_processes.start()
            self.engine_processes.wait_ready(ENGINE_START_WAIT)
        self.server.start()
        self.scheduler.start()
        if self.listener is not None:
            self.listener.start()
        LOG.info("share_worker %s consuming topic %s on exchange %s",
                 self.engine.owner, self.conf.share_worker.topic,
                 self.conf.control_exchange)

    def stop(self) -> None:
        """Stop within ``[share_worker] shutdown_timeout`` seconds. A
        store or broker that does not answer can hold a step up (a
        stalled connection answers nothing, not even an error): each
        step runs on a thread of its own, and one that outlives its
        share of the time is left behind, logged; what it did not
        finish stays in the store or its queue."""
        budget = self.conf.share_worker.shutdown_timeout
        deadline = time.monotonic() + budget
        LOG.info("share_worker %s stopping (at most %.0f s)",
                 self.engine.owner, budget)

        def left(share: float) -> float:
            return max(0.2, min(share * budget,
                                deadline - time.monotonic()))

        steps = []
        if self.listener is not None:
            steps.append(("the Manila listener", self.listener.stop, 0.2))
        steps += [("the RPC server", self.server.stop, 0.2),
                  ("the scheduler", self.scheduler.stop, 0.1),
                  ("the engine", self.engine.stop, 0.6)]
        if self.engine_processes is not None:
            steps.append(("the engine processes",
                          self.engine_processes.stop, 1.0))
        for name, stop, share in steps:
            timeout = left(share)
            _bounded(name, lambda fn=stop, t=timeout: fn(timeout=t),
                     timeout + 0.5)
        _bounded("the event publisher", self.sink.close, left(0.1))
        _bounded("the store", self.engine.store.dispose, left(0.1))
        LOG.info("share_worker %s stopped", self.engine.owner)


def _bounded(name: str, fn: Callable[[], None], timeout: float) -> bool:
    """Run *fn* on a thread of its own for at most *timeout* seconds;
    whether it ended."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - stopping goes on
            errors.append(e)

    thread = threading.Thread(target=run, name="stop", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        LOG.warning("Stopping %s did not end within %.1f s; leaving it",
                    name, timeout)
        return False
    if errors:
        LOG.warning("Stopping %s failed: %s", name, errors[0])
    return True
