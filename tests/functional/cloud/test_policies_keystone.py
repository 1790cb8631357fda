"""Automatic protection against the real Keystone and Manila: a policy's
runs act through a Keystone trust as the share's project; Manila's own
share.create.end protects a matching share."""

import pytest
from keystoneauth1 import exceptions as ks_exc
from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import conf as sw_conf
from share_worker import messaging, service
from share_worker.endpoints.manila_notifications import (
    ManilaNotificationEndpoint,
)
from share_worker.scheduler.runner import Scheduler
from tests.conftest import RecordingSink, wait_for

pytestmark = pytest.mark.real_cloud


@pytest.fixture
def cloud_conf(real_cloud, tmp_path):
    svc = real_cloud.service_user
    conf_file = tmp_path / "worker.conf"
    conf_file.write_text(
        "[DEFAULT]\nstate_path = %s\n"
        "[share_worker]\npoll_interval = 0.2\n"
        "[manila_client]\nauth_type = password\nauth_url = %s\n"
        "username = %s\npassword = %s\nproject_id = %s\n"
        "user_domain_name = Default\nregion_name = %s\n"
        "[manila_notifications]\ntransport_url = %s\nexchange = %s\n"
        "pool = sw_policy_test_%s\n" % (
            tmp_path, real_cloud.auth_url, svc.username, svc.password,
            svc.project_id, real_cloud.region_name,
            real_cloud.transport_url, real_cloud.control_exchange,
            tmp_path.name))
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    messaging.register_opts(conf)
    conf(["--config-file", str(conf_file)], default_config_files=[],
         default_config_dirs=[])
    return conf


@pytest.fixture
def engine(cloud_conf):
    sink = RecordingSink()
    engine = service.build_engine(cloud_conf, sink=sink)
    engine.sink = sink
    engine.start()
    yield engine
    engine.stop()
    engine.store.dispose()


def user_context(real_cloud, name):
    user = real_cloud.users[name]
    return o_context.RequestContext(user_id=user.user_id,
                                    project_id=user.project_id,
                                    auth_token=real_cloud.token(name),
                                    roles=["member"])


def new_share(real_cloud, manila, name):
    share = manila.shares.create("NFS", 1, name=name,
                                 share_type=real_cloud.share_type)
    wait_for(lambda: manila.shares.get(share.id).status == "available",
             timeout=90, interval=0.3, what="share %s available" % name)
    return share


def cleanup(manila, engine, ctx, policy_id, share):
    for cp in engine.list_checkpoints(ctx, {"policy_id": policy_id}):
        if cp["status"] == "available":
            engine.delete(ctx, cp["id"])
    wait_for(lambda: not [s for s in manila.share_snapshots.list()
                          if s.share_id == share.id],
             timeout=90, interval=0.3, what="snapshots deleted")
    manila.shares.delete(share.id)


def test_scheduled_runs_act_through_a_trust(real_cloud, engine,
                                            cloud_conf):
    manila = real_cloud.manila("sw-user-a")
    share = new_share(real_cloud, manila, "sw-policy-trust")
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
        assert snap.user_id == ctx.user_id            # impersonated
    finally:
        engine.delete_policy(ctx, policy["id"])
    with pytest.raises(ks_exc.NotFound):
        admin.get(trust_url)
    cleanup(manila, engine, user_context(real_cloud, "sw-user-a"),
            policy["id"], share)


def test_manila_create_event_protects_a_new_share(real_cloud, engine,
                                                  cloud_conf):
    ctx = user_context(real_cloud, "sw-user-b")
    policy = engine.create_policy(ctx, {
        "name": "on create", "resources": {"metadata": {"sw-protect": "yes"}},
        "triggers": ["share.create.end"]})
    listener = messaging.manila_notification_listener(
        cloud_conf, [ManilaNotificationEndpoint(engine)])
    listener.start()
    manila = real_cloud.manila("sw-user-b")
    try:
        plain = new_share(real_cloud, manila, "sw-event-plain")
        share = manila.shares.create("NFS", 1, name="sw-event-tagged",
                                     share_type=real_cloud.share_type,
                                     metadata={"sw-protect": "yes"})
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
        listener.wait()
        engine.delete_policy(ctx, policy["id"])
    cleanup(manila, engine, ctx, policy["id"], share)
    manila.shares.delete(plain.id)


def test_a_scheduled_policy_keeps_exactly_n_checkpoints(real_cloud, engine,
                                                        cloud_conf):
    cloud_conf.set_override("scheduler_interval", 0.2, group="share_worker")
    cloud_conf.set_override("retention_interval", 0.2, group="share_worker")
    manila = real_cloud.manila("sw-user-a")
    share = new_share(real_cloud, manila, "sw-policy-retention")
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
    cleanup(manila, engine, ctx, policy["id"], share)
