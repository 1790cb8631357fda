"""Service wiring: builds the store, plugins, Manila clients and engine.

The one place that turns a ``ConfigOpts`` into running parts::

    conf = cfg.ConfigOpts()
    share_worker.conf.register_opts(conf)
    conf(["--config-file", "share_worker.conf"])
    engine = build_engine(conf)
    engine.start()
"""

from __future__ import annotations

import os

from oslo_config import cfg

from share_worker.clients.manila import ManilaClientFactory
from share_worker.db.store import Store
from share_worker.engine.outbox import EventSink
from share_worker.engine.service import Engine
from share_worker.plugins.loader import PluginRegistry


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
