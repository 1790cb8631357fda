"""Manila notifications that can't be handled (invariant 6), on the real
broker to a share-worker process: every field of the wrong type, bodies
that are not JSON, envelopes that are not oslo.messaging's: each is
dropped with one log line and never redelivered; a good event after
them still protects its share; one refused as Busy is tried again a
bounded number of times, then dropped with one line."""

from __future__ import annotations

import json
import uuid

import kombu

from share_worker.amqp import wire
from share_worker.testing import rabbitmq
from tests.functional.faults.conftest import (
    PROJECT,
    SHARE,
    store_count,
    user_ctx,
    wait_for,
)


def notification(share_id: str, **fields) -> dict:
    message = {"message_id": uuid.uuid4().hex, "publisher_id": "share.h1",
               "event_type": "share.create.end", "priority": "INFO",
               "payload": {"share_id": share_id, "project_id": PROJECT,
                           "status": "creating"},
               "timestamp": "2026-12-01 10:00:00.000000"}
    message.update(fields)
    return wire.encode(message)


POISON_FIELDS = [
    {"priority": 5}, {"priority": None}, {"priority": ["INFO"]},
    {"priority": {"x": 1}}, {"event_type": 5}, {"event_type": None},
    {"event_type": ["share.create.end"]}, {"payload": "text"},
    {"payload": None}, {"payload": [1, 2]}, {"payload": {"share_id": 5}},
    {"message_id": 5}, {"message_id": None}, {"message_id": {"a": 1}},
    {"timestamp": 5}, {"timestamp": None}, {"publisher_id": 5},
    {"publisher_id": None}, {"publisher_id": ["a"]},
]
RAW = ["not json", b"\xff\xfe\x00", "[]", "null", "42",
       json.dumps({"oslo.version": "2.0", "oslo.message": "{broken"}),
       json.dumps({"oslo.version": "7.0", "oslo.message": "{}"})]


def amqp_url(vhost: rabbitmq.VirtualHost) -> str:
    return "amqp://%s:%s@%s:%d/%s" % (rabbitmq.USER, rabbitmq.PASSWORD,
                                      rabbitmq.HOST, rabbitmq.PORT,
                                      vhost.name)


def test_poison_notifications_are_dropped_once_each(setting, sim,
                                                    rabbit_vhost):
    topic = "manila_%s" % uuid.uuid4().hex[:8]
    pool = "sw_pool_%s" % uuid.uuid4().hex[:8]
    setting.extra["manila_notifications"] = {
        "enabled": True, "exchange": "openstack", "topics": topic,
        "pool": pool, "retry_attempts": 3, "retry_backoff": 0.2}
    worker = setting.worker(max_in_flight=1).start()
    client = setting.client()
    setting.wait_ready(client, worker)
    wait_for(lambda: pool in rabbit_vhost.queue_depths(), timeout=20,
             what="the worker's pool queue")
    client.create_policy(user_ctx(), {
        "name": "on create", "resources": {"all_shares": True},
        "triggers": ["share.create.end"]})
    good, busy, running = sim.sim.create_shares(PROJECT, 3)
    bodies = [notification(good, **fields) for fields in POISON_FIELDS]
    bodies += RAW
    with kombu.Connection(amqp_url(rabbit_vhost)) as conn:
        producer = conn.Producer()
        exchange = kombu.Exchange("openstack", type="topic", durable=False)

        def send(body):
            if not isinstance(body, (str, bytes)):
                body = json.dumps(body)
            producer.publish(body, exchange=exchange,
                             routing_key="%s.info" % topic,
                             content_type="application/json",
                             content_encoding="utf-8"
                             if isinstance(body, str) else "binary",
                             declare=[exchange])

        for body in bodies:
            send(body)
        send(notification(good))
        wait_for(lambda: store_count(
            setting.db_url, "SELECT count(*) FROM checkpoints WHERE "
            "resource_id = '%s'" % good) == 1, timeout=30,
            what=lambda: "the good event's checkpoint\n" + worker.log_tail())
        wait_for(lambda: rabbit_vhost.queue_depths().get(pool) == 0,
                 timeout=20, what="the pool queue drained")
        log = worker.log_text()
        dropped = [line for line in log.splitlines()
                   if "dropped" in line and "otification" in line]
        assert len(dropped) == len(bodies), "\n".join(dropped)
        # No redelivery, no hot loop: the log did not grow with them.
        assert len(log.splitlines()) < 400, len(log.splitlines())

        # Busy: one operation in flight is max_in_flight = 1.
        sim.sim.set_delays(snapshot_create=3600)
        client.protect(user_ctx(), {"type": SHARE, "id": running})
        send(notification(busy))
        wait_for(lambda: "dropped after 3 attempts" in worker.log_text(),
                 timeout=30, what=lambda: "the Busy event given up\n"
                 + worker.log_tail())
    log = worker.log_text()
    assert log.count("dropped after 3 attempts") == 1
    assert log.count("tried again in") == 2
    assert store_count(setting.db_url, "SELECT count(*) FROM checkpoints "
                       "WHERE resource_id = '%s'" % busy) == 0
    wait_for(lambda: rabbit_vhost.queue_depths().get(pool) == 0,
             timeout=20, what="the pool queue drained")
