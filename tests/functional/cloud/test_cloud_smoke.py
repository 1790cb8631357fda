"""The real cloud works end to end for a project user.

A share and a snapshot made through python-manilaclient with a Keystone
token (endpoint from the catalog) become available, stay invisible to
another project, and are deleted.
"""

from __future__ import annotations

import uuid

import pytest
from manilaclient import exceptions as manila_exc

from tests.conftest import wait_for

pytestmark = pytest.mark.real_cloud

# The dummy driver answers at once; the rest is RPC and polling.
DEADLINE = 60


def _status_is(get, resource_id: str, wanted: str):
    """A wait_for predicate that fails at once on an error status."""
    def check():
        found = get(resource_id)
        assert found.status != "error", found
        return found if found.status == wanted else None
    return check


def _gone(get, resource_id: str):
    def check():
        try:
            get(resource_id)
        except manila_exc.NotFound:
            return True
        return False
    return check


@pytest.fixture
def manila_a(real_cloud):
    client = real_cloud.manila("sw-user-a")
    created = []
    yield client, created
    # Leave no shares behind when the test failed half-way.
    admin = real_cloud.manila("admin")
    for kind, resource_id in reversed(created):
        manager = (admin.share_snapshots if kind == "snapshot"
                   else admin.shares)
        try:
            manager.force_delete(resource_id)
            wait_for(_gone(manager.get, resource_id), timeout=DEADLINE,
                     interval=0.2, what="%s %s gone" % (kind, resource_id))
        except manila_exc.NotFound:
            pass


def test_share_and_snapshot_in_project_a(real_cloud, manila_a):
    client, created = manila_a
    name = "sw-smoke-%s" % uuid.uuid4().hex[:8]

    share = client.shares.create("NFS", 1, name=name,
                                 share_type=real_cloud.share_type)
    created.append(("share", share.id))
    share = wait_for(_status_is(client.shares.get, share.id, "available"),
                     timeout=DEADLINE, interval=0.2, what="share available")
    assert share.project_id == real_cloud.users["sw-user-a"].project_id

    snapshot = client.share_snapshots.create(share, name=name + "-snap")
    created.append(("snapshot", snapshot.id))
    wait_for(_status_is(client.share_snapshots.get, snapshot.id,
                        "available"),
             timeout=DEADLINE, interval=0.2, what="snapshot available")

    # Another project's user sees neither the share nor its snapshot.
    other = real_cloud.manila("sw-user-b")
    with pytest.raises(manila_exc.NotFound):
        other.shares.get(share.id)
    with pytest.raises(manila_exc.NotFound):
        other.share_snapshots.get(snapshot.id)
    assert share.id not in {s.id for s in other.shares.list()}

    client.share_snapshots.delete(snapshot)
    wait_for(_gone(client.share_snapshots.get, snapshot.id),
             timeout=DEADLINE, interval=0.2, what="snapshot deleted")
    client.shares.delete(share)
    wait_for(_gone(client.shares.get, share.id),
             timeout=DEADLINE, interval=0.2, what="share deleted")
    created.clear()
