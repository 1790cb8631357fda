"""The one place that builds share_worker's message-bus pieces: the RPC
server, the listener of Manila's notifications and the status-event sink,
all from one ``ConfigOpts`` and oslo.messaging's own options::

    conf = cfg.ConfigOpts()
    messaging.register_opts(conf)
    conf([...])
    server = messaging.rpc_server(conf, [endpoint, ...])
    server.start()                 # acknowledges a request once handled
    listener = messaging.manila_notification_listener(conf, endpoint)
    sink = messaging.event_sink(conf)    # publishes with confirms

They speak oslo.messaging's wire format over kombu (see
:mod:`share_worker.amqp`) instead of using its RPCServer, Notifier and
listeners: those acknowledge a request before it is handled and drop a
notification whose send failed, which would lose requests and events
(DESIGN section 2). Exchanges come from ``control_exchange`` (default
``share_worker``); queues are declared as oslo.messaging declares them
(``amqp_durable_queues``, ``rabbit_quorum_queue`` ...).
"""

from __future__ import annotations

import importlib

import oslo_messaging
from oslo_config import cfg
from oslo_messaging import opts as om_opts

from share_worker import exception
from share_worker.amqp.connection import Broker
from share_worker.amqp.listener import NotificationListener
from share_worker.amqp.rpc import RpcServer
from share_worker.conf import opts as sw_opts
from share_worker.notifications import BusSink


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register oslo.messaging's options on *conf* with our defaults.

    Besides transport and notification options this registers the
    ``[oslo_messaging_tracing]`` and ``[oslo_messaging_metrics]`` groups,
    which oslo.messaging 18.x reads in every call/cast but registers only
    on the global ``cfg.CONF``.
    """
    for group, opts in om_opts.list_opts():
        name = getattr(group, "name", group)
        if name in (None, "DEFAULT"):
            conf.register_opts(opts)
        else:
            conf.register_opts(opts, group=name)
    defaults = sw_opts.MESSAGING_DEFAULTS
    conf.set_default("control_exchange", defaults["control_exchange"])
    conf.set_default("executor_thread_pool_size",
                     defaults["executor_thread_pool_size"])
    conf.set_default("driver", defaults["notification_driver"],
                     group="oslo_messaging_notifications")
    _register_global_only_opts(conf)


def _register_global_only_opts(conf: cfg.ConfigOpts) -> None:
    for module, name in (("oslo_messaging._tracing.client",
                          "oslo_messaging_tracing"),
                         ("oslo_messaging._metrics.client",
                          "oslo_messaging_metrics")):
        try:
            opts = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # another oslo.messaging
            continue
        conf.register_opts(opts, group=name)


def rpc_transport(conf: cfg.ConfigOpts,
                  url: str | None = None) -> oslo_messaging.Transport:
    """An oslo.messaging transport for callers (``rpcapi``, the CLI)."""
    return oslo_messaging.get_rpc_transport(conf, url=url)


def notification_transport(conf: cfg.ConfigOpts,
                           url: str | None = None
                           ) -> oslo_messaging.Transport:
    """An oslo.messaging transport for listeners of the status events
    (``share-worker-ctl watch``, the demo)."""
    return oslo_messaging.get_notification_transport(conf, url=url)


def rpc_server(conf: cfg.ConfigOpts, endpoints: list) -> RpcServer:
    """The worker's RPC server on ``[DEFAULT] transport_url``: topic
    ``[share_worker] topic`` on exchange ``control_exchange``, at most
    ``[share_worker] rpc_prefetch`` requests in hand, handled by
    ``executor_thread_pool_size`` threads."""
    return RpcServer(Broker.from_conf(conf), conf.control_exchange,
                     conf.share_worker.topic, conf.host, endpoints,
                     prefetch=conf.share_worker.rpc_prefetch,
                     workers=conf.executor_thread_pool_size)


def manila_notification_listener(conf: cfg.ConfigOpts,
                                 endpoint: object) -> NotificationListener:
    """A listener of Manila's notifications as ``[manila_notifications]``
    says: Manila's exchange and topics, the worker's own pool (queue)."""
    mconf = conf.manila_notifications
    if mconf.pool == conf.share_worker.topic:
        raise exception.ConfigurationError(
            reason="[manila_notifications] pool %r is the name of the RPC "
                   "queue ([share_worker] topic): choose another pool"
                   % mconf.pool)
    return NotificationListener(
        Broker.from_conf(conf, mconf.transport_url), mconf.exchange,
        mconf.topics, mconf.pool, endpoint.handle, prefetch=mconf.prefetch,
        workers=4, attempts=mconf.retry_attempts,
        backoff=mconf.retry_backoff)


def event_sink(conf: cfg.ConfigOpts) -> BusSink:
    """The status-event sink (``[oslo_messaging_notifications]``)."""
    return BusSink(conf)
