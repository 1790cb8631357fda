"""Read-only engine methods: records, protectables, plugin schemas.

A project sees only its own checkpoints and restores; an admin context
may name another project with the ``project_id`` filter::

    engine.list_checkpoints(ctx, {"status": "available"}, limit=50)
    engine.list_protectable_dependents(ctx, "OS::Keystone::Project",
                                       ctx.project_id)
    engine.show_plugin_schemas("OS::Manila::Share")
"""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context

from share_worker import exception
from share_worker.db.store import Store
from share_worker.engine import validate


class Queries:
    """Mixed into the Engine; needs ``store`` and ``registry``."""

    store: Store
    registry: Any

    # -- records ------------------------------------------------------------

    def show_checkpoint(self, ctx: o_context.RequestContext,
                        checkpoint_id: Any) -> dict:
        validate.require_project(ctx)
        checkpoint_id = validate.record_id(checkpoint_id, "checkpoint_id")
        return self.store.get_checkpoint(checkpoint_id, ctx.project_id)

    def list_checkpoints(self, ctx: o_context.RequestContext,
                         filters: Any = None, limit: Any = None,
                         marker: Any = None) -> list[dict]:
        validate.require_project(ctx)
        filters, limit, marker = validate.listing(filters, limit, marker)
        return self.store.list_checkpoints(
            self._scope(ctx, filters), filters, limit, marker)

    def show_restore(self, ctx: o_context.RequestContext,
                     restore_id: Any) -> dict:
        validate.require_project(ctx)
        restore_id = validate.record_id(restore_id, "restore_id")
        return self.store.get_restore(restore_id, ctx.project_id)

    def list_restores(self, ctx: o_context.RequestContext,
                      filters: Any = None, limit: Any = None,
                      marker: Any = None) -> list[dict]:
        validate.require_project(ctx)
        filters, limit, marker = validate.listing(filters, limit, marker)
        return self.store.list_restores(
            self._scope(ctx, filters), filters, limit, marker)

    @staticmethod
    def _scope(ctx: o_context.RequestContext, filters: dict) -> str | None:
        wanted = filters.get("project_id")
        if wanted is None or wanted == ctx.project_id:
            return ctx.project_id
        if not ctx.is_admin:
            raise exception.Forbidden(
                reason="only an admin may list another project's records")
        return None

    # -- protectables -------------------------------------------------------

    def list_protectable_types(self) -> list[str]:
        return self.registry.protectable_types()

    def show_protectable_type(self, resource_type: Any) -> dict:
        self.registry.protectable(resource_type)
        return {"name": resource_type,
                "dependent_types": self.registry.dependent_types(
                    resource_type)}

    def list_protectable_instances(self, ctx: o_context.RequestContext,
                                   resource_type: Any,
                                   parameters: Any = None) -> list[dict]:
        validate.require_project(ctx)
        plugin = self.registry.protectable(resource_type)
        if parameters is not None and not isinstance(parameters, dict):
            raise exception.InvalidInput(reason="parameters must be an "
                                                "object")
        return plugin.list_resources(ctx, parameters)

    def show_protectable_instance(self, ctx: o_context.RequestContext,
                                  resource_type: Any,
                                  resource_id: Any) -> dict:
        validate.require_project(ctx)
        plugin = self.registry.protectable(resource_type)
        if not isinstance(resource_id, str) or not resource_id:
            raise exception.InvalidInput(
                reason="resource_id must be a non-empty string")
        return plugin.show_resource(ctx, resource_id)

    def list_protectable_dependents(self, ctx: o_context.RequestContext,
                                    resource_type: Any,
                                    resource_id: Any) -> list[dict]:
        validate.require_project(ctx)
        self.registry.protectable(resource_type)
        if not isinstance(resource_id, str) or not resource_id:
            raise exception.InvalidInput(
                reason="resource_id must be a non-empty string")
        if resource_id != ctx.project_id and not ctx.is_admin:
            raise exception.Forbidden(
                reason="project %s may not list the resources of %s %s"
                       % (ctx.project_id, resource_type, resource_id))
        parent = {"type": resource_type, "id": resource_id}
        result = []
        for dep_type in self.registry.dependent_types(resource_type):
            plugin = self.registry.protectable(dep_type)
            result.extend(plugin.get_dependent_resources(ctx, parent))
        return result

    def show_plugin_schemas(self, resource_type: Any) -> dict:
        plugin = self.registry.protection(resource_type)
        return {"options_schema": plugin.get_options_schema(resource_type),
                "restore_schema": plugin.get_restore_schema(resource_type),
                "saved_info_schema": plugin.get_saved_info_schema(
                    resource_type)}
