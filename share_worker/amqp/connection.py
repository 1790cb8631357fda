"""Kombu connections and queue shapes, read from oslo.messaging's own
options (``transport_url``, ``[oslo_messaging_rabbit]``), so the queues
share_worker declares are the ones an oslo.messaging peer declares::

    broker = Broker.from_conf(conf)               # [DEFAULT] transport_url
    with broker.connect() as conn:
        queue = broker.queue("share_worker", broker.topic_exchange(
            "share_worker"), "share_worker")
        queue(conn.channel()).declare()

``rabbit://`` URLs and, for tests, ``kombu+memory://`` are supported;
``amqp_durable_queues`` / ``rabbit_quorum_queue`` decide whether queues
(and the messages in them) survive a broker restart. As in
oslo.messaging, the URL's query may set ``[oslo_messaging_rabbit]``
options for that broker only (``rabbit://h/?amqp_durable_queues=true``).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import sys
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import Any

import kombu
import oslo_messaging
from oslo_config import cfg
from oslo_messaging._drivers import common as om_common

from share_worker import exception

#: seconds to wait for a broker's TCP connection and handshake
CONNECT_TIMEOUT = 5.0

_SSL_VERSIONS = {"tlsv1": "PROTOCOL_TLSv1", "tlsv1_1": "PROTOCOL_TLSv1_1",
                 "tlsv1_2": "PROTOCOL_TLSv1_2", "sslv23": "PROTOCOL_SSLv23"}


@dataclasses.dataclass
class Broker:
    """Where and how to connect, and how queues are declared."""

    url: str
    heartbeat: int = 60
    ssl: Any = False
    login_method: str = "AMQPLAIN"
    failover_strategy: str = "round-robin"
    durable: bool = False
    auto_delete: bool = False
    queue_arguments: dict = dataclasses.field(default_factory=dict)
    transient_durable: bool = False
    transient_arguments: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts,
                  url: str | None = None) -> Broker:
        """The broker of *url* (default ``[DEFAULT] transport_url``)."""
        try:
            parsed = oslo_messaging.TransportURL.parse(conf, url)
            # the URL's query overrides options, as oslo.messaging's
            # drivers let it
            rabbit = om_common.ConfigOptsProxy(
                conf, parsed, "oslo_messaging_rabbit").oslo_messaging_rabbit
        except (oslo_messaging.InvalidTransportURL, ValueError,
                cfg.Error) as e:
            raise exception.ConfigurationError(reason=str(e)) from e
        quorum = rabbit.rabbit_quorum_queue
        if quorum and rabbit.rabbit_ha_queues:
            raise exception.ConfigurationError(
                reason="[oslo_messaging_rabbit] rabbit_quorum_queue and "
                       "rabbit_ha_queues are both set; choose one")
        args: dict[str, Any] = {}
        if rabbit.rabbit_ha_queues:
            args["x-ha-policy"] = "all"
        if quorum:
            args["x-queue-type"] = "quorum"
            args.update(_quorum_limits(rabbit))
        transient: dict[str, Any] = {}
        if rabbit.rabbit_ha_queues:
            transient["x-ha-policy"] = "all"
        if rabbit.rabbit_transient_quorum_queue:
            transient["x-queue-type"] = "quorum"
            transient.update(_quorum_limits(rabbit))
        if rabbit.rabbit_transient_queues_ttl > 0:
            transient["x-expires"] = rabbit.rabbit_transient_queues_ttl * 1000
        return cls(
            url=_kombu_url(parsed),
            heartbeat=rabbit.heartbeat_timeout_threshold,
            ssl=_ssl_params(rabbit, parsed),
            login_method=rabbit.rabbit_login_method,
            failover_strategy=rabbit.kombu_failover_strategy,
            durable=bool(rabbit.amqp_durable_queues or quorum),
            auto_delete=rabbit.amqp_auto_delete, queue_arguments=args,
            transient_durable=rabbit.rabbit_transient_quorum_queue,
            transient_arguments=transient)

    @property
    def is_memory(self) -> bool:
        return self.url.startswith("memory://")

    def connect(self, confirm: bool = False, purpose: str = "share_worker",
                heartbeat: bool = True) -> kombu.Connection:
        """A kombu connection (not yet connected); *confirm*: every
        publish waits for the broker's confirm."""
        name = "%s:%d:%s:%s" % (os.path.basename(sys.argv[0] or "python"),
                                os.getpid(), purpose, uuid.uuid4().hex[:8])
        options: dict[str, Any] = {"client_properties": {
            "connection_name": name,
            "capabilities": {"authentication_failure_close": True,
                             "connection.blocked": True,
                             "consumer_cancel_notify": True}}}
        if confirm:
            options["confirm_publish"] = True
        if self.is_memory:
            options["polling_interval"] = 0.005
        return kombu.Connection(
            self.url, ssl=self.ssl, login_method=self.login_method,
            heartbeat=self.heartbeat if heartbeat and not self.is_memory
            else 0,
            failover_strategy=self.failover_strategy,
            connect_timeout=CONNECT_TIMEOUT, transport_options=options)

    # -- shapes of what oslo.messaging declares ---------------------------

    def topic_exchange(self, name: str) -> kombu.Exchange:
        return kombu.Exchange(name, type="topic", durable=self.durable,
                              auto_delete=self.auto_delete)

    def queue(self, name: str, exchange: kombu.Exchange,
              routing_keys: str | Sequence[str]) -> kombu.Queue:
        """A topic queue (RPC topics, notification pools), bound to
        *exchange* with each of *routing_keys*."""
        keys = [routing_keys] if isinstance(routing_keys, str) \
            else list(routing_keys)
        flags = dict(durable=self.durable, auto_delete=self.auto_delete,
                     queue_arguments=dict(self.queue_arguments) or None)
        if len(keys) == 1:
            return kombu.Queue(name, exchange=exchange, routing_key=keys[0],
                               **flags)
        return kombu.Queue(name, bindings=[
            kombu.binding(exchange, routing_key=key) for key in keys],
            **flags)

    def fanout_queue(self, topic: str) -> kombu.Queue:
        """This process's own queue on *topic*'s fanout exchange."""
        exchange = kombu.Exchange("%s_fanout" % topic, type="fanout",
                                  durable=self.transient_durable,
                                  auto_delete=True)
        return kombu.Queue("%s_fanout_%s" % (topic, uuid.uuid4().hex),
                           exchange=exchange, routing_key=topic,
                           durable=self.transient_durable, auto_delete=False,
                           queue_arguments=dict(self.transient_arguments)
                           or None)

    def describe(self) -> str:
        """The URL without its password, for log lines."""
        return _redact(self.url)


def connection_errors(conn: kombu.Connection) -> tuple:
    """What a lost or refused broker connection raises."""
    return (tuple(conn.connection_errors) + tuple(conn.channel_errors)
            + (OSError, socket.timeout, kombu.exceptions.OperationalError))


def _quorum_limits(rabbit: Any) -> dict:
    limits = {}
    if rabbit.rabbit_quorum_delivery_limit:
        limits["x-delivery-limit"] = rabbit.rabbit_quorum_delivery_limit
    if rabbit.rabbit_quorum_max_memory_length:
        limits["x-max-in-memory-length"] = \
            rabbit.rabbit_quorum_max_memory_length
    if rabbit.rabbit_quorum_max_memory_bytes:
        limits["x-max-in-memory-bytes"] = \
            rabbit.rabbit_quorum_max_memory_bytes
    return limits


def _kombu_url(parsed: oslo_messaging.TransportURL) -> str:
    transport = parsed.transport or "rabbit"
    if transport == "kombu+memory":
        return "memory://"
    if transport not in ("rabbit", "kombu", "amqp"):
        raise exception.ConfigurationError(
            reason="transport_url %s:// is not supported: share_worker "
                   "consumes and publishes on RabbitMQ (rabbit://) so that "
                   "it can acknowledge a request only once it is recorded"
                   % transport)
    hosts = parsed.hosts or [oslo_messaging.transport.TransportHost("")]
    vhost = parsed.virtual_host or ""
    return ";".join("amqp://%s:%s@%s:%d/%s" % (
        urllib.parse.quote(host.username or "guest", safe=""),
        urllib.parse.quote(host.password or "guest", safe=""),
        _host(host.hostname or "localhost"), host.port or 5672,
        urllib.parse.quote(vhost, safe="")) for host in hosts)


def _host(name: str) -> str:
    return "[%s]" % name if ":" in name and not name.startswith("[") \
        else name


def _ssl_params(rabbit: Any, parsed: oslo_messaging.TransportURL) -> Any:
    if not rabbit.ssl:
        return False
    params: dict[str, Any] = {}
    if rabbit.ssl_version:
        name = _SSL_VERSIONS.get(rabbit.ssl_version.lower())
        if name is None or not hasattr(ssl, name):
            raise exception.ConfigurationError(
                reason="[oslo_messaging_rabbit] ssl_version %s is not "
                       "known here" % rabbit.ssl_version)
        params["ssl_version"] = getattr(ssl, name)
    if rabbit.ssl_key_file:
        params["keyfile"] = rabbit.ssl_key_file
    if rabbit.ssl_cert_file:
        params["certfile"] = rabbit.ssl_cert_file
    if rabbit.ssl_ca_file:
        params["ca_certs"] = rabbit.ssl_ca_file
        params["cert_reqs"] = ssl.CERT_REQUIRED
        if len(parsed.hosts) == 1:
            params["server_hostname"] = parsed.hosts[0].hostname
    return params or True


def _redact(url: str) -> str:
    parts = []
    for one in url.split(";"):
        split = urllib.parse.urlsplit(one)
        if split.password:
            netloc = "%s:***@%s" % (split.username, split.hostname)
            if split.port:
                netloc += ":%d" % split.port
            one = urllib.parse.urlunsplit(split._replace(netloc=netloc))
        parts.append(one)
    return ";".join(parts)
