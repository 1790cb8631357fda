"""Protection policies over the real RabbitMQ with the simulator:
contract 1.1 through rpcapi and a bare RPCClient, scheduled runs and
retention, Manila's notifications on exchange openstack."""

import json
import threading
import time
import uuid

import kombu
import oslo_messaging
import pytest

from share_worker.engine.policies import run_checkpoint_id
from tests.conftest import wait_for
from tests.functional.conftest import PROJECT, user_ctx

SHARE = "OS::Manila::Share"


def policy_checkpoints(rpc, policy_id):
    return rpc.list_checkpoints(user_ctx(), {"policy_id": policy_id})


def test_policy_records_over_rpc(start_service, rpc, rabbit_vhost,
                                 worker_conf):
    start_service()
    policy = rpc.create_policy(user_ctx(), {
        "name": "nightly", "resources": {"all_shares": True},
        "schedule": {"cron": "0 2 * * *", "timezone": "Europe/Paris"},
        "retention": {"max_count": 7}})
    assert policy["project_id"] == PROJECT and policy["next_run_at"]
    assert rpc.show_policy(user_ctx(), policy["id"]) == policy
    assert [p["id"] for p in rpc.list_policies(user_ctx())] == [policy["id"]]
    assert rpc.list_policies(user_ctx("proj-b")) == []
    changed = rpc.update_policy(user_ctx(), policy["id"], {"enabled": False})
    assert changed["enabled"] is False and changed["next_run_at"] is None

    for call, exc_type in (
            (lambda: rpc.show_policy(user_ctx("proj-b"), policy["id"]),
             "PolicyNotFound"),
            (lambda: rpc.update_policy(user_ctx(), policy["id"],
                                       {"schedule": {"interval_seconds": 0}}),
             "InvalidInput"),
            (lambda: rpc.create_policy(user_ctx(), {
                "name": "x", "resources": {"all_shares": True},
                "schedule": {"cron": "0 2 * * *", "timezone": "Nowhere/X"}}),
             "InvalidInput")):
        with pytest.raises(oslo_messaging.RemoteError) as e:
            call()
        assert e.value.exc_type == exc_type

    # A client written from the contract alone: version 1.1 for policies.
    transport = oslo_messaging.get_rpc_transport(worker_conf,
                                                 rabbit_vhost.url)
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(
        exchange="share_worker", topic=worker_conf.share_worker.topic,
        version="1.1"), timeout=30)
    try:
        got = client.call(user_ctx().to_dict(), "show_policy",
                          policy_id=policy["id"])
        assert got["name"] == "nightly"
        assert client.call(user_ctx().to_dict(), "delete_policy",
                           policy_id=policy["id"]) is None
        assert client.prepare(version="1.0").call(
            user_ctx().to_dict(), "list_protectable_types") == [
            "OS::Keystone::Project", SHARE]
    finally:
        transport.cleanup()
    with pytest.raises(oslo_messaging.RemoteError) as e:
        rpc.show_policy(user_ctx(), policy["id"])
    assert e.value.exc_type == "PolicyNotFound"


def test_scheduled_policy_keeps_its_newest_checkpoints(start_service, rpc,
                                                       events, sim):
    start_service(scheduler_interval=0.1, retention_interval=0.1)
    share_id = sim.sim.create_share(PROJECT)
    policy = rpc.create_policy(user_ctx(), {
        "name": "every second", "resources": {"share_ids": [share_id]},
        "schedule": {"interval_seconds": 1}, "retention": {"max_count": 2}})
    wait_for(lambda: len(policy_checkpoints(rpc, policy["id"])) >= 5,
             timeout=30, what="five scheduled checkpoints")
    rpc.update_policy(user_ctx(), policy["id"], {"enabled": False})
    made = policy_checkpoints(rpc, policy["id"])       # newest first
    wait_for(lambda: [c["status"] for c in policy_checkpoints(
        rpc, policy["id"])][2:] == ["deleted"] * (len(made) - 2),
        timeout=30, what="retention to delete all but two")
    final = policy_checkpoints(rpc, policy["id"])
    assert [c["status"] for c in final[:2]] == ["available", "available"]
    assert [c["id"] for c in final] == [c["id"] for c in made]
    assert {c["trigger"] for c in final} == {"schedule"}
    pruned = events.wait(final[-1]["id"],
                         "share_worker.checkpoint.delete.end")
    assert pruned["policy_id"] == policy["id"]
    assert pruned["trigger"] == "schedule"
    assert len(sim.sim.store.snapshots_of(share_id)) == 2


def test_retention_runs_when_the_new_copy_lands(start_service, rpc, sim):
    """max_count = 1, a run every 3 s, the retention timer at its 10 s
    default: sampled every 0.2 s for 20 s, the policy never holds two
    available checkpoints for more than about a second."""
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    policy = rpc.create_policy(user_ctx(), {
        "name": "every 3 s", "resources": {"share_ids": [share_id]},
        "schedule": {"interval_seconds": 3}, "retention": {"max_count": 1}})
    tick = threading.Event()
    samples = []                 # (seconds since start, available count)
    start = time.monotonic()
    while time.monotonic() - start < 20:
        statuses = [c["status"] for c in policy_checkpoints(
            rpc, policy["id"])]
        samples.append((time.monotonic() - start,
                        statuses.count("available")))
        tick.wait(0.2)
    rpc.update_policy(user_ctx(), policy["id"], {"enabled": False})
    windows, began = [], None
    for at, available in samples:
        if available > 1 and began is None:
            began = at
        elif available <= 1 and began is not None:
            windows.append(at - began)
            began = None
    print("seconds over max_count, per window: %s"
          % ", ".join("%.1f" % w for w in windows))
    assert began is None or samples[-1][0] - began <= 1.2, samples[-8:]
    made = policy_checkpoints(rpc, policy["id"])
    assert len(made) >= 5, made            # the runs went on meanwhile
    assert max(windows, default=0.0) <= 1.2, (windows, samples)
    # every pruned checkpoint is gone from Manila too, the newest kept
    wait_for(lambda: len(sim.sim.store.snapshots_of(share_id)) == 1,
             timeout=30, what="one snapshot left in Manila")


@pytest.mark.postgres
@pytest.mark.parametrize("any_db_url", ["postgresql"], indirect=True)
def test_two_workers_never_fire_a_tick_twice(start_service, rpc, sim):
    workers = [start_service(scheduler_interval=0.05) for _ in range(2)]
    shares = [sim.sim.create_share(PROJECT) for _ in range(2)]
    policy = rpc.create_policy(user_ctx(), {
        "name": "busy", "resources": {"share_ids": shares},
        "schedule": {"interval_seconds": 1}})
    wait_for(lambda: sum(w.scheduler.fired for w in workers) >= 4,
             timeout=30, what="four ticks")
    rpc.delete_policy(user_ctx(), policy["id"])
    ticks = [key for w in workers for _, key in w.scheduler.recent]
    assert len(ticks) == len(set(ticks)) >= 4          # none fired twice
    # Every checkpoint is one fired tick's, one per share (a tick finding
    # the share's previous checkpoint still protecting coalesces into it).
    made = {(c["resource"]["id"], c["id"])
            for c in policy_checkpoints(rpc, policy["id"])}
    assert made <= {(s, run_checkpoint_id(policy["id"], s, key))
                    for s in shares for key in ticks}
    assert len(made) >= len(ticks)


# -- Manila's notifications ---------------------------------------------------

def publish_manila_event(rabbit_vhost, worker_conf, event_type, payload,
                         message_id=None, body=None):
    """What Manila's messagingv2 Notifier puts on exchange openstack."""
    message = {"message_id": message_id or str(uuid.uuid4()),
               "publisher_id": "share.host1", "event_type": event_type,
               "priority": "INFO", "payload": payload,
               "timestamp": "2026-11-25 10:00:00.000000"}
    if body is None:
        body = {"oslo.version": "2.0", "oslo.message": json.dumps(message)}
    topic = worker_conf.manila_notifications.topics[0]
    with kombu.Connection(rabbit_vhost.url.replace("rabbit://",
                                                   "amqp://")) as conn:
        exchange = kombu.Exchange("openstack", type="topic", durable=False)
        conn.Producer().publish(body, exchange=exchange,
                                routing_key=topic + ".info",
                                declare=[exchange], serializer="json")


def test_manila_create_event_protects_a_matching_share(
        start_service, rpc, sim, rabbit_vhost, worker_conf):
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    policy = rpc.create_policy(user_ctx(), {
        "name": "on create", "resources": {"all_shares": True},
        "triggers": ["share.create.end"]})
    # Garbage first: dropped with a log line, never redelivered forever.
    publish_manila_event(rabbit_vhost, worker_conf, "share.create.end",
                         None, body="not an envelope")
    publish_manila_event(rabbit_vhost, worker_conf, "share.create.end",
                         {"share_id": 42, "project_id": PROJECT})
    payload = {"share_id": share_id, "project_id": PROJECT,
               "status": "creating", "size": 1}
    for _ in range(2):                         # a duplicate delivery
        publish_manila_event(rabbit_vhost, worker_conf, "share.create.end",
                             payload, message_id="manila-msg-1")
    (cp,) = wait_for(lambda: policy_checkpoints(rpc, policy["id"]),
                     timeout=20, what="the event's checkpoint")
    assert cp["trigger"] == "event" and cp["resource"]["id"] == share_id
    wait_for(lambda: rpc.show_checkpoint(user_ctx(), cp["id"])["status"]
             == "available", timeout=20)
    publish_manila_event(rabbit_vhost, worker_conf, "share.create.end",
                         {"share_id": "other-share", "project_id": "proj-b"})
    # The worker went on: a later event of another share is handled too.
    second = sim.sim.create_share(PROJECT)
    publish_manila_event(rabbit_vhost, worker_conf, "share.create.end",
                         dict(payload, share_id=second))
    wait_for(lambda: len(policy_checkpoints(rpc, policy["id"])) == 2,
             timeout=20, what="the second share's checkpoint")


def test_other_consumers_of_manila_events_keep_their_messages(
        start_service, rpc, sim, rabbit_vhost, worker_conf):
    """The worker listens in a pool of its own: a consumer such as
    Ceilometer on the same topic still gets every event."""
    topic = worker_conf.manila_notifications.topics[0]
    seen = []

    class Ceilometer:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            seen.append(payload["share_id"])

    transport = oslo_messaging.get_notification_transport(
        worker_conf, rabbit_vhost.url)
    other = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(exchange="openstack",
                                          topic=topic)],
        [Ceilometer()], pool="ceilometer")
    other.start()
    try:
        start_service()
        share_id = sim.sim.create_share(PROJECT)
        policy = rpc.create_policy(user_ctx(), {
            "name": "on create", "resources": {"share_ids": [share_id]},
            "triggers": ["share.create.end"]})
        publish_manila_event(rabbit_vhost, worker_conf, "share.create.end",
                             {"share_id": share_id, "project_id": PROJECT})
        wait_for(lambda: policy_checkpoints(rpc, policy["id"]), timeout=20,
                 what="the worker's checkpoint")
        wait_for(lambda: seen == [share_id], timeout=20,
                 what="the other consumer's copy")
    finally:
        other.stop()
        other.wait()
        transport.cleanup()
