"""Protectable plugin for ``OS::Manila::Share`` (parent a Keystone project).

    plugin = ManilaShareProtectablePlugin(clients)
    plugin.list_resources(ctx)                     # ShareManager.list
    plugin.show_resource(ctx, share_id)            # ShareManager.get
    plugin.get_dependent_resources(
        ctx, {"type": "OS::Keystone::Project", "id": ctx.project_id})

Shares in a status that can't be snapshotted (deleting, error, ...) are
left out of lists; ``show_resource`` of one says why in its extra_info.
"""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context

from share_worker import exception
from share_worker.clients.manila import ManilaClientFactory, manila_errors
from share_worker.plugins import base

SHARE_RESOURCE_TYPE = "OS::Manila::Share"
PROJECT_RESOURCE_TYPE = "OS::Keystone::Project"

#: Manila statuses in which a share can't be protected, and why.
UNUSABLE_STATUSES = {
    "deleting": "the share is being deleted",
    "deleted": "the share is deleted",
    "error": "the share is in error",
    "error_deleting": "the share failed to delete",
    "manage_error": "the share failed to be managed",
    "unmanage_error": "the share failed to be unmanaged",
    "unmanage_starting": "the share is being unmanaged",
    "unmanaged": "the share is unmanaged",
    "extending_error": "the share failed to extend",
    "shrinking_error": "the share failed to shrink",
    "shrinking_possible_data_loss_error":
        "the share failed to shrink and may have lost data",
    "reverting_error": "the share failed to revert to a snapshot",
    "soft_deleted": "the share is in the recycle bin",
}

#: list_resources parameters passed on to Manila as filters
LIST_PARAMETERS = ("name", "metadata", "share_type_id", "share_network_id",
                   "status")


def field(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a manilaclient resource or of its dict view."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def unusable_reason(share: Any) -> str | None:
    """Why *share* can't be protected now, or None when it can be."""
    status = field(share, "status")
    reason = UNUSABLE_STATUSES.get(status)
    if reason:
        return "%s (status %s)" % (reason, status)
    if field(share, "snapshot_support", True) is False:
        return "the share's type does not support snapshots"
    return None


def share_resource(share: Any) -> dict:
    """A Manila share as the contract's resource dict."""
    reason = unusable_reason(share)
    extra = {
        "status": share.status,
        "size": getattr(share, "size", None),
        "share_proto": getattr(share, "share_proto", None),
        "share_type": getattr(share, "share_type", None),
        "share_network_id": getattr(share, "share_network_id", None),
        "availability_zone": getattr(share, "availability_zone", None),
        "project_id": getattr(share, "project_id", None),
        "protectable": reason is None,
    }
    if reason:
        extra["reason"] = "Share %s can't be protected: %s" % (share.id,
                                                               reason)
    return {"type": SHARE_RESOURCE_TYPE, "id": share.id,
            "name": getattr(share, "name", None), "extra_info": extra}


class ManilaShareProtectablePlugin(base.ProtectablePlugin):
    """Manila shares of a project, through python-manilaclient."""

    def __init__(self, clients: ManilaClientFactory) -> None:
        self._clients = clients

    def get_resource_type(self) -> str:
        return SHARE_RESOURCE_TYPE

    def get_parent_resource_types(self) -> list[str]:
        return [PROJECT_RESOURCE_TYPE]

    def list_resources(self, context: o_context.RequestContext,
                       parameters: dict | None = None) -> list[dict]:
        search = _search_opts(parameters)
        client = self._clients.for_context(context)
        with manila_errors("list shares"):
            shares = client.shares.list(detailed=True, search_opts=search)
        return [share_resource(s) for s in shares
                if unusable_reason(s) is None]

    def show_resource(self, context: o_context.RequestContext,
                      resource_id: str,
                      parameters: dict | None = None) -> dict:
        client = self._clients.for_context(context)
        try:
            with manila_errors("show share %s" % resource_id):
                share = client.shares.get(resource_id)
        except exception.ResourceNotFound as e:
            raise exception.ResourceNotFound(
                resource_type=SHARE_RESOURCE_TYPE,
                resource_id=resource_id) from e
        return share_resource(share)

    def get_dependent_resources(self, context: o_context.RequestContext,
                                parent_resource: dict) -> list[dict]:
        if parent_resource.get("type") != PROJECT_RESOURCE_TYPE:
            raise exception.UnsupportedResourceType(
                resource_type=parent_resource.get("type"),
                supported=PROJECT_RESOURCE_TYPE)
        project_id = parent_resource.get("id")
        if project_id == context.project_id:
            return self.list_resources(context)
        # Another project's shares: only with the service's rights, and the
        # engine lets only admins ask.
        client = self._clients.for_polling(project_id)
        return [share_resource(s) for s in client.list_shares()
                if unusable_reason(s) is None]


def _search_opts(parameters: dict | None) -> dict:
    parameters = dict(parameters or {})
    unknown = sorted(set(parameters) - set(LIST_PARAMETERS))
    if unknown:
        raise exception.InvalidInput(
            reason="unknown parameter(s) %s for %s; allowed: %s" % (
                ", ".join(unknown), SHARE_RESOURCE_TYPE,
                ", ".join(LIST_PARAMETERS)))
    if "metadata" in parameters and not isinstance(parameters["metadata"],
                                                   dict):
        raise exception.InvalidInput(reason="parameter 'metadata' must be "
                                            "an object of key/value pairs")
    return parameters
