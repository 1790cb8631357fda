"""Protectable plugin for ``OS::Keystone::Project``: the caller's project.

It owns no data of its own; it is the parent type whose dependents are the
project's shares (Karbor's model)::

    plugin = KeystoneProjectProtectablePlugin(clients)
    plugin.list_resources(ctx)   # [{'type': 'OS::Keystone::Project', ...}]
"""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context

from share_worker import exception
from share_worker.plugins import base

PROJECT_RESOURCE_TYPE = "OS::Keystone::Project"


def _project(context: o_context.RequestContext, project_id: str) -> dict:
    name = (context.project_name if project_id == context.project_id
            else None)
    return {"type": PROJECT_RESOURCE_TYPE, "id": project_id, "name": name,
            "extra_info": {}}


class KeystoneProjectProtectablePlugin(base.ProtectablePlugin):
    """The request's project; admins may name any project."""

    def __init__(self, clients: Any = None) -> None:
        self._clients = clients

    def get_resource_type(self) -> str:
        return PROJECT_RESOURCE_TYPE

    def get_parent_resource_types(self) -> list[str]:
        return []

    def list_resources(self, context: o_context.RequestContext,
                       parameters: dict | None = None) -> list[dict]:
        if parameters:
            raise exception.InvalidInput(
                reason="%s takes no parameters" % PROJECT_RESOURCE_TYPE)
        return [_project(context, context.project_id)]

    def show_resource(self, context: o_context.RequestContext,
                      resource_id: str,
                      parameters: dict | None = None) -> dict:
        if resource_id != context.project_id and not context.is_admin:
            raise exception.ResourceNotFound(
                resource_type=PROJECT_RESOURCE_TYPE, resource_id=resource_id)
        return _project(context, resource_id)

    def get_dependent_resources(self, context: o_context.RequestContext,
                                parent_resource: dict) -> list[dict]:
        return []
