"""A user's token revoked while the worker is still waiting on Manila:
the operation finishes, because statuses are polled with the worker's
service credentials (DESIGN invariant 7).

The share lives on the cloud's slow backend, where a snapshot takes
seconds to be created and deleted: the token is revoked while Manila
still reports ``creating`` / ``deleting``, and Manila itself refuses the
token from then on (the cloud keeps no token cache).
"""

import pytest
from manilaclient import exceptions as manila_exc

from tests.conftest import wait_for
from tests.functional.cloud.shares import DEADLINE

pytestmark = pytest.mark.real_cloud
SHARE = "OS::Manila::Share"


def _snapshot_in(shares, share_id, status):
    def check():
        found = [s for s in shares.snapshots_of(share_id)]
        assert all("error" not in s.status for s in found), found
        return [s for s in found if s.status == status]
    return check


def _revoke_mid_operation(real_cloud, shares, share_id, token, status):
    """Revoke *token* while the share's snapshot is in *status*; check
    Manila refuses the token and the snapshot is still in *status*."""
    wait_for(_snapshot_in(shares, share_id, status), timeout=DEADLINE,
             interval=0.1, what="a snapshot %s in Manila" % status)
    real_cloud.revoke(token)
    as_user = real_cloud.manila_with_token(token)
    with pytest.raises(manila_exc.Unauthorized):
        as_user.shares.get(share_id)
    assert _snapshot_in(shares, share_id, status)(), (
        "the snapshot left %s before the token was revoked: the slow "
        "backend's delays (%s) are too short for this machine"
        % (status, real_cloud.slow_delays))


def test_operations_finish_after_the_token_is_revoked(real_cloud,
                                                      start_service, rpc,
                                                      events, shares):
    start_service()
    share = shares.create("sw-user-a", share_type=real_cloud.slow_share_type)

    token = real_cloud.token("sw-user-a")
    ctx = real_cloud.context("sw-user-a", token=token)
    cp = rpc.protect(ctx, {"type": SHARE, "id": share.id})
    _revoke_mid_operation(real_cloud, shares, share.id, token, "creating")
    end = events.wait(cp["id"], "share_worker.checkpoint.protect.end",
                      timeout=DEADLINE)
    [snapshot] = shares.snapshots_of(share.id)
    assert (snapshot.id, snapshot.status) == (
        end["saved_info"]["snapshot_id"], "available")

    token = real_cloud.token("sw-user-a")
    ctx = real_cloud.context("sw-user-a", token=token)
    assert rpc.delete(ctx, cp["id"])["status"] == "deleting"
    _revoke_mid_operation(real_cloud, shares, share.id, token, "deleting")
    events.wait(cp["id"], "share_worker.checkpoint.delete.end",
                timeout=DEADLINE)
    assert shares.snapshots_of(share.id) == []
    assert events.for_record(cp["id"]) == [
        "share_worker.checkpoint.protect.start",
        "share_worker.checkpoint.protect.end",
        "share_worker.checkpoint.delete.start",
        "share_worker.checkpoint.delete.end"]
