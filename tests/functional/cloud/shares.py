"""Shares a real-cloud test makes, removed after it even when it failed.

    shares = Shares(real_cloud)
    share = shares.create("sw-user-a")                # available
    shares.adopt(copy_id)                             # made by the worker
    shares.cleanup()      # snapshots first (Manila refuses otherwise)
"""

from __future__ import annotations

import uuid
from typing import Any

from manilaclient import exceptions as manila_exc

from tests.conftest import wait_for

#: The dummy driver answers at once, the slow backend in seconds; the
#: machine is shared: generous.
DEADLINE = 120


def status_is(get, resource_id: str, wanted: str):
    """A wait_for predicate that fails at once on an error status."""
    def check():
        found = get(resource_id)
        assert "error" not in found.status, found
        return found if found.status == wanted else None
    return check


def gone(get, resource_id: str):
    def check():
        try:
            get(resource_id)
        except manila_exc.NotFound:
            return True
        except manila_exc.InternalServerError:
            # Manila 23 at microversion >= 2.90 answers 500 for a share
            # whose instance is already deleted and the share not yet.
            return False
        return False
    return check


class Shares:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.admin = cloud.manila("admin")
        self.ids: list[str] = []

    def create(self, user: str = "sw-user-a", share_type: str | None = None,
               name: str | None = None) -> Any:
        """An available 1 GiB NFS share of USER's project."""
        client = self.cloud.manila(user)
        share = client.shares.create(
            "NFS", 1, name=name or "sw-test-%s" % uuid.uuid4().hex[:8],
            share_type=share_type or self.cloud.share_type)
        self.ids.append(share.id)
        return wait_for(status_is(client.shares.get, share.id, "available"),
                        timeout=DEADLINE, interval=0.2,
                        what="share %s available" % share.id)

    def adopt(self, share_id: str) -> None:
        """Delete this share (made by the worker) after the test too."""
        self.ids.append(share_id)

    def snapshots_of(self, share_id: str) -> list:
        return self.admin.share_snapshots.list(
            detailed=True, search_opts={"all_tenants": 1,
                                        "share_id": share_id})

    def cleanup(self) -> None:
        for share_id in reversed(self.ids):
            for snap in self.snapshots_of(share_id):
                self._force_delete(self.admin.share_snapshots, snap.id)
            self._force_delete(self.admin.shares, share_id)

    @staticmethod
    def _force_delete(manager: Any, resource_id: str) -> None:
        try:
            manager.force_delete(resource_id)
        except manila_exc.NotFound:
            return
        wait_for(gone(manager.get, resource_id), timeout=DEADLINE,
                 interval=0.2, what="%s gone" % resource_id)
