"""Two projects with their own users (sw-user-a in sw-project-a,
sw-user-b in sw-project-b), and bad tokens, over RabbitMQ against the
real Keystone and Manila.

Which error a caller gets (DESIGN section 3, invariant 7): another
project's checkpoint does not exist for it (``CheckpointNotFound``, so
its existence is not revealed); another project's share is not found by
Manila with the caller's token, and a protect of it is accepted (RPC
methods never wait on Manila) then ends in a ``ResourceNotFound`` error
event; a context whose token Keystone refuses, or whose project is not
its token's, is ``Forbidden`` before anything is looked up.
"""

import oslo_messaging
import pytest

from tests.functional.cloud.shares import DEADLINE

pytestmark = pytest.mark.real_cloud
SHARE = "OS::Manila::Share"
PROJECT_TYPE = "OS::Keystone::Project"


def refused(call, *args, **kwargs) -> oslo_messaging.RemoteError:
    with pytest.raises(oslo_messaging.RemoteError) as err:
        call(*args, **kwargs)
    return err.value


@pytest.fixture
def checkpoint_of_a(real_cloud, start_service, rpc, events, shares):
    start_service()
    share = shares.create("sw-user-a")
    ctx = real_cloud.context("sw-user-a")
    cp = rpc.protect(ctx, {"type": SHARE, "id": share.id})
    events.wait(cp["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    return share, cp


def test_a_project_cannot_reach_anothers_checkpoints(real_cloud, rpc,
                                                     events, shares,
                                                     checkpoint_of_a):
    share, cp = checkpoint_of_a
    b = real_cloud.context("sw-user-b")
    for call, args in ((rpc.show_checkpoint, (cp["id"],)),
                       (rpc.restore, (cp["id"],)),
                       (rpc.delete, (cp["id"],))):
        err = refused(call, b, *args)
        assert err.exc_type == "CheckpointNotFound", (call, err.value)
    assert rpc.list_checkpoints(b) == []
    # a project_id filter narrows B's own view, never widens it
    assert rpc.list_checkpoints(
        b, filters={"project_id": cp["project_id"]}) == []
    err = refused(rpc.list_checkpoints, b, filters={"all_projects": True})
    assert err.exc_type == "Forbidden"      # the get_all_projects rule
    assert "share_worker:checkpoint:get_all_projects" in err.value

    # Still A's and untouched: available, its snapshot there.
    a = real_cloud.context("sw-user-a")
    assert rpc.show_checkpoint(a, cp["id"])["status"] == "available"
    assert [c["id"] for c in rpc.list_checkpoints(a)] == [cp["id"]]
    snaps = shares.snapshots_of(share.id)
    assert [s.status for s in snaps] == ["available"]
    assert events.for_record(cp["id"]) == [
        "share_worker.checkpoint.protect.start",
        "share_worker.checkpoint.protect.end"]


def test_a_project_cannot_protect_anothers_share(real_cloud, start_service,
                                                 rpc, events, shares):
    start_service()
    share = shares.create("sw-user-a")
    b = real_cloud.context("sw-user-b")
    err = refused(rpc.show_protectable_instance, b, SHARE, share.id)
    assert err.exc_type == "ResourceNotFound"
    cp = rpc.protect(b, {"type": SHARE, "id": share.id})
    error = events.wait(cp["id"], "share_worker.checkpoint.protect.error",
                        timeout=DEADLINE)
    assert error["error"]["code"] == "ResourceNotFound"
    assert error["project_id"] == b.project_id
    assert shares.snapshots_of(share.id) == []
    err = refused(rpc.list_protectable_dependents, b, PROJECT_TYPE,
                  share.project_id)
    assert err.exc_type == "Forbidden"


def test_a_forged_project_is_forbidden(real_cloud, rpc, shares,
                                       checkpoint_of_a):
    """B's valid token with A's project id (and a claim to be admin)."""
    share, cp = checkpoint_of_a
    a = real_cloud.users["sw-user-a"]
    forged = real_cloud.context("sw-user-b", is_admin=True, roles=["admin"])
    forged.project_id = a.project_id
    forged.user_id = None
    for call, args in ((rpc.show_checkpoint, (cp["id"],)),
                       (rpc.list_checkpoints, ()),
                       (rpc.delete, (cp["id"],)),
                       (rpc.restore, (cp["id"],)),
                       (rpc.protect, ({"type": SHARE, "id": share.id},)),
                       (rpc.list_protectable_dependents,
                        (PROJECT_TYPE, a.project_id))):
        err = refused(call, forged, *args)
        assert err.exc_type == "Forbidden", (call, err.value)
        assert "scoped to project" in err.value
    ctx = real_cloud.context("sw-user-a")
    assert rpc.show_checkpoint(ctx, cp["id"])["status"] == "available"
    assert len(shares.snapshots_of(share.id)) == 1


def test_invalid_and_revoked_tokens_are_forbidden(real_cloud, rpc, shares,
                                                  checkpoint_of_a):
    share, cp = checkpoint_of_a
    revoked = real_cloud.token("sw-user-a")
    real_cloud.revoke(revoked)
    for token in ("not-a-token", "gAAAAABkbm90LWEtZmVybmV0LXRva2Vu",
                  revoked):
        ctx = real_cloud.context("sw-user-a", token=token)
        for call, args in ((rpc.show_checkpoint, (cp["id"],)),
                           (rpc.list_checkpoints, ()),
                           (rpc.protect, ({"type": SHARE, "id": share.id},)),
                           (rpc.delete, (cp["id"],)),
                           (rpc.list_protectable_instances, (SHARE,))):
            err = refused(call, ctx, *args)
            assert err.exc_type == "Forbidden", (call, err.value)
            assert "invalid, expired or revoked" in err.value
    # The worker is still serving, and nothing was touched.
    ctx = real_cloud.context("sw-user-a")
    assert rpc.show_checkpoint(ctx, cp["id"])["status"] == "available"
    assert len(shares.snapshots_of(share.id)) == 1
