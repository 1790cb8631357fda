"""The one place that builds oslo.messaging transports, servers, clients
and notifiers for share_worker.

Exchanges come from ``control_exchange`` (default ``share_worker``),
which also decides where the Notifier publishes::

    conf = cfg.ConfigOpts()
    messaging.register_opts(conf)
    conf([...])
    transport = messaging.rpc_transport(conf)
    server = messaging.rpc_server(conf, transport, [endpoint])
    notifier = messaging.notifier(conf, publisher_id="share_worker.host1")
    listener = messaging.manila_notification_listener(conf, [endpoint])
    listener.start()     # endpoint.info(ctxt, publisher_id, event_type, ...)
"""

from __future__ import annotations

import importlib
from typing import Any

import oslo_messaging
from oslo_config import cfg
from oslo_messaging import opts as om_opts
from oslo_messaging.rpc import dispatcher as rpc_dispatcher
from oslo_messaging.rpc import server as rpc_server_mod

from share_worker import exception
from share_worker.conf import opts as sw_opts
from share_worker.endpoints import base as endpoints_base

RPC_VERSION = "1.1"


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
    return oslo_messaging.get_rpc_transport(conf, url=url)


def notification_transport(conf: cfg.ConfigOpts,
                           url: str | None = None
                           ) -> oslo_messaging.Transport:
    return oslo_messaging.get_notification_transport(conf, url=url)


def rpc_target(conf: cfg.ConfigOpts, server: str | None = None,
               version: str = RPC_VERSION) -> oslo_messaging.Target:
    return oslo_messaging.Target(exchange=conf.control_exchange,
                                 topic=conf.share_worker.topic,
                                 server=server, version=version)


def _is_cast(incoming: Any) -> bool:
    """A cast has nowhere to reply to: no reply queue on the AMQP drivers
    (a cast still carries a msg_id there), no reply queue on fake://."""
    if hasattr(incoming, "reply_q"):
        return incoming.reply_q is None
    return getattr(incoming, "_reply_q", None) is None


class _CastAwareDispatcher(rpc_dispatcher.RPCDispatcher):
    """Notes whether the message being dispatched is a cast, so an
    endpoint can report a rejected cast on the bus (no one waits for a
    reply to it)."""

    def dispatch(self, incoming: Any) -> Any:
        endpoints_base.set_dispatching_cast(_is_cast(incoming))
        try:
            return super().dispatch(incoming)
        finally:
            endpoints_base.set_dispatching_cast(False)


def rpc_server(conf: cfg.ConfigOpts, transport: oslo_messaging.Transport,
               endpoints: list, serializer: Any = None
               ) -> rpc_server_mod.RPCServer:
    """A threading RPC server; only ``@oslo_messaging.expose``-d endpoint
    methods are callable (explicit access policy).

    The executor is left to oslo.messaging, which picks threading unless
    eventlet has monkey-patched the process (share_worker never does);
    naming it is deprecated in oslo.messaging 18."""
    dispatcher = _CastAwareDispatcher(
        endpoints, serializer,
        access_policy=rpc_dispatcher.ExplicitRPCAccessPolicy)
    return rpc_server_mod.RPCServer(transport, rpc_target(conf, conf.host),
                                    dispatcher)


def manila_notification_listener(
        conf: cfg.ConfigOpts, endpoints: list,
        transport: oslo_messaging.Transport | None = None) -> Any:
    """A listener of Manila's notifications as ``[manila_notifications]``
    says: Manila's exchange and topics, the worker's own pool (queue),
    the threading executor; an endpoint may ask for a message to be
    requeued."""
    mconf = conf.manila_notifications
    if mconf.pool == conf.share_worker.topic:
        raise exception.ConfigurationError(
            reason="[manila_notifications] pool %r is the name of the RPC "
                   "queue ([share_worker] topic): choose another pool"
                   % mconf.pool)
    transport = transport or notification_transport(
        conf, mconf.transport_url)
    targets = [oslo_messaging.Target(exchange=mconf.exchange, topic=topic)
               for topic in mconf.topics]
    return oslo_messaging.get_notification_listener(
        transport, targets, endpoints, pool=mconf.pool, allow_requeue=True)


def notifier(conf: cfg.ConfigOpts, publisher_id: str,
             transport: oslo_messaging.Transport | None = None
             ) -> oslo_messaging.Notifier:
    transport = transport or notification_transport(conf)
    return oslo_messaging.Notifier(transport, publisher_id=publisher_id)
