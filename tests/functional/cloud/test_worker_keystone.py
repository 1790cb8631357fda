"""The engine in keystone mode against the real Keystone and Manila:
real users' tokens, the service user's catalog and polls, without
RabbitMQ (the same over RabbitMQ: test_cloud_rpc.py)."""

import pytest
from oslo_context import context as o_context

from tests.conftest import wait_for

pytestmark = pytest.mark.real_cloud
SHARE = "OS::Manila::Share"


@pytest.fixture
def keystone_engine(engine):
    """The functional ``engine`` fixture, on this tier's engine_conf."""
    return engine


def user_context(real_cloud, name):
    user = real_cloud.users[name]
    return o_context.RequestContext(user_id=user.user_id,
                                    project_id=user.project_id,
                                    auth_token=real_cloud.token(name))


def test_lifecycle_with_a_users_token(real_cloud, keystone_engine):
    manila = real_cloud.manila("sw-user-a")
    share = manila.shares.create("NFS", 1, name="sw-keystone",
                                 share_type=real_cloud.share_type)
    wait_for(lambda: manila.shares.get(share.id).status == "available",
             timeout=60, interval=0.2, what="the share to be available")
    ctx = user_context(real_cloud, "sw-user-a")
    engine = keystone_engine
    cp = engine.protect(ctx, {"type": SHARE, "id": share.id})
    done = engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end",
                            timeout=60)
    snapshot = manila.share_snapshots.get(done["saved_info"]["snapshot_id"])
    assert snapshot.status == "available"
    assert snapshot.project_id == ctx.project_id   # made as the user

    restore = engine.restore(ctx, cp["id"], {"restore_name": "sw-copy"})
    end = engine.sink.wait(restore["id"], "share_worker.restore.end",
                           timeout=60)
    copy = manila.shares.get(end["target"]["share_id"])
    assert copy.name == "sw-copy" and copy.status == "available"

    revert = engine.restore(ctx, cp["id"], {"share_id": share.id})
    engine.sink.wait(revert["id"], "share_worker.restore.end", timeout=60)

    engine.delete(ctx, cp["id"])
    engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end",
                     timeout=60)
    manila.shares.delete(copy.id)
    wait_for(lambda: not [s for s in manila.share_snapshots.list()
                          if s.share_id == share.id],
             timeout=60, interval=0.2, what="the snapshot to be gone")
    manila.shares.delete(share.id)


def test_another_projects_share_cannot_be_protected(real_cloud,
                                                    keystone_engine):
    manila = real_cloud.manila("sw-user-a")
    share = manila.shares.create("NFS", 1, name="sw-private",
                                 share_type=real_cloud.share_type)
    wait_for(lambda: manila.shares.get(share.id).status == "available",
             timeout=60, interval=0.2, what="the share to be available")
    other = user_context(real_cloud, "sw-user-b")
    cp = keystone_engine.protect(other, {"type": SHARE, "id": share.id})
    err = keystone_engine.sink.wait(
        cp["id"], "share_worker.checkpoint.protect.error", timeout=60)
    assert err["error"]["code"] == "ResourceNotFound"
    assert manila.share_snapshots.list(search_opts={"share_id": share.id}) \
        == []
    manila.shares.delete(share.id)
