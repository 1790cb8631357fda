"""Automatic protection against the real Keystone and Manila: a policy's
runs act through a Keystone trust as the share's project; Manila's own
share.create.end protects a matching share."""

import pytest
from keystoneauth1 import exceptions as ks_exc
from oslo_context import context as o_context

from share_worker import messaging, service
from share_worker.clients.keystone import TokenValidator
from share_worker.endpoints.manila_notifications import (
    ManilaNotificationEndpoint,
)
from share_worker.engine.policies import run_checkpoint_id
from share_worker.scheduler.runner import Scheduler
from tests.conftest import RecordingSink, _reset_pg, wait_for

pytestmark = pytest.mark.real_cloud


@pytest.fixture
def cloud_conf(engine_conf, real_cloud, tmp_path):
    """The worker's keystone-mode configuration, listening to the cloud's
    Manila notifications in a pool of this test's own."""
    messaging.register_opts(engine_conf)
    for key, value in {"transport_url": real_cloud.transport_url,
                       "exchange": real_cloud.control_exchange,
                       "pool": "sw_policy_test_%s" % tmp_path.name}.items():
        engine_conf.set_override(key, value, group="manila_notifications")
    return engine_conf


def user_context(real_cloud, name):
    user = real_cloud.users[name]
    return o_context.RequestContext(user_id=user.user_id,
                                    project_id=user.project_id,
                                    auth_token=real_cloud.token(name),
                                    roles=["member"])


def test_scheduled_runs_act_through_a_trust(real_cloud, engine,
                                            cloud_conf, shares):
    manila = real_cloud.manila("sw-user-a")
    share = shares.create("sw-user-a", name="sw-policy-trust")
    ctx = user_context(real_cloud, "sw-user-a")
    policy = engine.create_policy(ctx, {
        "name": "trust", "resources": {"share_ids": [share.id]},
        "schedule": {"interval_seconds": 1},
        "retention": {"max_count": 1}})
    row = engine.policies.get_row(policy["id"])
    assert row.trust_id
    admin = real_cloud.session("share_worker")
    trust_url = "%s/OS-TRUST/trusts/%s" % (real_cloud.auth_url.rstrip("/"),
                                           row.trust_id)
    trust = admin.get(trust_url).json()["trust"]
    assert trust["trustor_user_id"] == ctx.user_id
    assert trust["project_id"] == ctx.project_id

    # The creator's token dies: the trust still lets the runs act.
    admin.delete("%s/auth/tokens" % real_cloud.auth_url.rstrip("/"),
                 headers={"X-Subject-Token": ctx.auth_token})
    scheduler = Scheduler(engine, cloud_conf)
    try:
        wait_for(lambda: scheduler.run_once(), timeout=20, interval=0.2,
                 what="a scheduled tick")
        (cp,) = engine.list_checkpoints(ctx, {"policy_id": policy["id"]})
        done = engine.sink.wait(cp["id"],
                                "share_worker.checkpoint.protect.end",
                                timeout=90)
        assert done["trigger"] == "schedule"
        snap = manila.share_snapshots.get(done["saved_info"]["snapshot_id"])
        assert snap.project_id == ctx.project_id      # the owner's
        # no impersonation: the worker's service user, in that project
        assert snap.user_id == \
            engine.clients.service_session().get_user_id()
    finally:
        engine.delete_policy(ctx, policy["id"])
    with pytest.raises(ks_exc.NotFound):
        admin.get(trust_url)


def test_manila_create_event_protects_a_new_share(real_cloud, engine,
                                                  cloud_conf, shares):
    ctx = user_context(real_cloud, "sw-user-b")
    policy = engine.create_policy(ctx, {
        "name": "on create", "resources": {"metadata": {"sw-protect": "yes"}},
        "triggers": ["share.create.end"]})
    listener = messaging.manila_notification_listener(
        cloud_conf, ManilaNotificationEndpoint(engine))
    assert listener.start(wait=30), "the listener never consumed"
    manila = real_cloud.manila("sw-user-b")
    try:
        shares.create("sw-user-b", name="sw-event-plain")
        share = manila.shares.create("NFS", 1, name="sw-event-tagged",
                                     share_type=real_cloud.share_type,
                                     metadata={"sw-protect": "yes"})
        shares.adopt(share.id)
        (cp,) = wait_for(lambda: engine.list_checkpoints(
            ctx, {"policy_id": policy["id"]}), timeout=90, interval=0.3,
            what="the share.create.end checkpoint")
        assert cp["trigger"] == "event"
        assert cp["resource"]["id"] == share.id
        done = engine.sink.wait(cp["id"],
                                "share_worker.checkpoint.protect.end",
                                timeout=90)
        snap = manila.share_snapshots.get(done["saved_info"]["snapshot_id"])
        assert snap.project_id == ctx.project_id
        assert len(engine.list_checkpoints(
            ctx, {"policy_id": policy["id"]})) == 1   # not the plain one
    finally:
        listener.stop()
        engine.delete_policy(ctx, policy["id"])


def test_a_scheduled_policy_keeps_exactly_n_checkpoints(real_cloud, engine,
                                                        cloud_conf, shares):
    cloud_conf.set_override("scheduler_interval", 0.2, group="share_worker")
    cloud_conf.set_override("retention_interval", 0.2, group="share_worker")
    manila = real_cloud.manila("sw-user-a")
    share = shares.create("sw-user-a", name="sw-policy-retention")
    ctx = user_context(real_cloud, "sw-user-a")
    policy = engine.create_policy(ctx, {
        "name": "keep two", "resources": {"share_ids": [share.id]},
        "schedule": {"interval_seconds": 2}, "retention": {"max_count": 2}})
    scheduler = Scheduler(engine, cloud_conf)
    scheduler.start()
    try:
        wait_for(lambda: len(engine.list_checkpoints(
            ctx, {"policy_id": policy["id"]})) >= 4, timeout=120,
            interval=0.5, what="four scheduled checkpoints")
        engine.update_policy(ctx, policy["id"], {"enabled": False})

        def settled():
            cps = engine.list_checkpoints(ctx, {"policy_id": policy["id"]})
            statuses = [c["status"] for c in cps]
            return statuses[:2] == ["available"] * 2 and set(
                statuses[2:]) <= {"deleted"} and cps
        cps = wait_for(settled, timeout=120, interval=0.5,
                       what="retention down to two checkpoints")
    finally:
        scheduler.stop()
    snapshots = [s for s in manila.share_snapshots.list()
                 if s.share_id == share.id]
    assert sorted(s.id for s in snapshots) == sorted(
        c["saved_info"]["snapshot_id"] for c in cps[:2])
    engine.delete_policy(ctx, policy["id"])


def test_two_workers_on_one_store_never_fire_a_tick_twice(
        real_cloud, cloud_conf, pg_server, shares):
    _reset_pg(pg_server)
    cloud_conf.set_override("connection", pg_server, group="database")
    cloud_conf.set_override("scheduler_interval", 0.05,
                            group="share_worker")
    engines = [service.build_engine(cloud_conf, sink=RecordingSink())
               for _ in range(2)]
    schedulers = [Scheduler(e, cloud_conf) for e in engines]
    manila = real_cloud.manila("sw-user-b")
    share = shares.create("sw-user-b", name="sw-policy-two-workers")
    ctx = user_context(real_cloud, "sw-user-b")
    for engine in engines:
        engine.start()
    policy = engines[0].create_policy(ctx, {
        "name": "two workers", "resources": {"share_ids": [share.id]},
        "schedule": {"interval_seconds": 2}})
    for scheduler in schedulers:
        scheduler.start()
    try:
        wait_for(lambda: sum(s.fired for s in schedulers) >= 3, timeout=60,
                 interval=0.2, what="three ticks")
        engines[1].update_policy(ctx, policy["id"], {"enabled": False})
    finally:
        for scheduler in schedulers:
            scheduler.stop()
    ticks = [key for s in schedulers for _, key in s.recent]
    assert len(ticks) == len(set(ticks)) >= 3          # none fired twice
    cps = engines[0].list_checkpoints(ctx, {"policy_id": policy["id"]})
    # Each checkpoint is one fired tick's (a tick coalesced into a
    # checkpoint still protecting makes none).
    assert {c["id"] for c in cps} <= {
        run_checkpoint_id(policy["id"], share.id, key) for key in ticks}
    wait_for(lambda: all(c["status"] == "available" for c in
                         engines[0].list_checkpoints(
                             ctx, {"policy_id": policy["id"]})),
             timeout=90, interval=0.3, what="the checkpoints available")
    snapshots = [s for s in manila.share_snapshots.list()
                 if s.share_id == share.id]
    assert len(snapshots) == len(cps)
    engines[0].delete_policy(ctx, policy["id"])
    for engine in engines:
        engine.stop()
        engine.store.dispose()


def test_a_trust_from_a_context_the_endpoints_validated(real_cloud, engine):
    """What create_policy gets over RPC: the token's user, project and
    roles (implied ones included), as TokenValidator sets them."""
    user = real_cloud.users["sw-user-a"]
    raw = o_context.RequestContext(project_id=user.project_id,
                                   auth_token=real_cloud.token("sw-user-a"))
    ctx = TokenValidator(engine.clients.service_session).authenticate(raw)
    policy = engine.create_policy(ctx, {"name": "validated",
                                        "resources": {"all_shares": True}})
    row = engine.policies.get_row(policy["id"])
    try:
        acting = engine.actor.context(row)
        assert acting.project_id == user.project_id
        # the trustee acts (no impersonation), with only trust_roles
        assert acting.user_id == \
            engine.clients.service_session().get_user_id()
    finally:
        engine.delete_policy(ctx, policy["id"])
