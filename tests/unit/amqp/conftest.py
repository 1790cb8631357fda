"""Fixtures for the kombu layer on its in-process ``memory://``
transport: a Broker, and raw publishing as any peer would."""

from __future__ import annotations

import json
import uuid

import kombu
import pytest

from share_worker import messaging
from share_worker.amqp.connection import Broker


@pytest.fixture
def broker(conf):
    messaging.register_opts(conf)
    conf.set_override("transport_url", "kombu+memory:////")
    return Broker.from_conf(conf)


@pytest.fixture
def publish(broker):
    """publish(body, exchange, routing_key): a raw message, JSON if the
    body is not bytes/str already."""
    conn = broker.connect(heartbeat=False)
    producer = kombu.Producer(conn.channel())

    def send(body, exchange, routing_key, **kwargs):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        producer.publish(body, exchange=exchange, routing_key=routing_key,
                         content_type="application/json",
                         content_encoding="utf-8" if isinstance(body, str)
                         else "binary", **kwargs)

    yield send
    conn.release()


@pytest.fixture
def unique():
    return uuid.uuid4().hex[:8]
