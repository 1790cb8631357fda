"""Broker settings read from oslo.messaging's own options, so the queues
share_worker declares are the ones an oslo.messaging peer declares."""

from __future__ import annotations

import pytest

from share_worker import exception, messaging
from share_worker.amqp.connection import Broker


@pytest.fixture
def mconf(conf):
    messaging.register_opts(conf)
    return conf


def test_the_transport_url_becomes_kombu_urls(mconf):
    broker = Broker.from_conf(
        mconf, "rabbit://u1:p%40ss@h1:5673,u2:p2@h2/vhost-1")
    assert broker.url == ("amqp://u1:p%40ss@h1:5673/vhost-1;"
                          "amqp://u2:p2@h2:5672/vhost-1")
    assert "p%40ss" not in broker.describe() and "***" in broker.describe()
    assert Broker.from_conf(mconf, "kombu+memory:////").is_memory


def test_a_transport_other_than_rabbitmq_is_refused(mconf):
    with pytest.raises(exception.ConfigurationError) as err:
        Broker.from_conf(mconf, "kafka://h:9092/")
    assert "kafka" in err.value.message


@pytest.mark.parametrize("options, durable, arguments", [
    ({}, False, None),
    ({"amqp_durable_queues": True}, True, None),
    ({"rabbit_quorum_queue": True}, True, {"x-queue-type": "quorum"}),
    ({"rabbit_ha_queues": True}, False, {"x-ha-policy": "all"}),
])
def test_queues_are_declared_as_oslo_messaging_declares_them(
        mconf, options, durable, arguments):
    for key, value in options.items():
        mconf.set_override(key, value, group="oslo_messaging_rabbit")
    broker = Broker.from_conf(mconf, "rabbit://h/")
    queue = broker.queue("topic", broker.topic_exchange("share_worker"),
                         "topic")
    assert queue.durable is durable
    assert queue.exchange.durable is durable
    assert queue.queue_arguments == arguments
    fanout = broker.fanout_queue("topic")
    assert fanout.name.startswith("topic_fanout_")
    assert fanout.queue_arguments["x-expires"] == 1800 * 1000


def test_the_urls_query_sets_options_for_that_broker_only(mconf):
    broker = Broker.from_conf(mconf, "rabbit://h/?amqp_durable_queues=true")
    assert broker.durable
    assert not Broker.from_conf(mconf, "rabbit://h/").durable


def test_quorum_and_ha_queues_together_are_refused(mconf):
    mconf.set_override("rabbit_quorum_queue", True,
                       group="oslo_messaging_rabbit")
    mconf.set_override("rabbit_ha_queues", True,
                       group="oslo_messaging_rabbit")
    with pytest.raises(exception.ConfigurationError):
        Broker.from_conf(mconf, "rabbit://h/")
