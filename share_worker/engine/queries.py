"""Read-only engine methods: records, protectables, plugin schemas.

A project sees only its own checkpoints and restores, unless the caller
may see every project's (the endpoint checked its ``all_projects``
rule); the ``project_id`` filter narrows a list, never widens it::

    engine.list_checkpoints(ctx, {"status": "available"}, limit=50)
    engine.list_checkpoints(admin_ctx, {"project_id": p}, all_projects=True)
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
    _conf: Any

    # -- records ------------------------------------------------------------

    def show_checkpoint(self, ctx: o_context.RequestContext,
                        checkpoint_id: Any) -> dict:
        validate.require_project(ctx)
        checkpoint_id = validate.record_id(checkpoint_id, "checkpoint_id")
        return self.store.get_checkpoint(checkpoint_id, ctx.project_id)

    def list_checkpoints(self, ctx: o_context.RequestContext,
                         filters: Any = None, limit: Any = None,
                         marker: Any = None,
                         all_projects: bool = False) -> list[dict]:
        validate.require_project(ctx)
        filters, limit, marker = self.listing(filters, limit, marker)
        return self.store.list_checkpoints(
            None if all_projects else ctx.project_id, filters, limit,
            marker)

    def show_restore(self, ctx: o_context.RequestContext,
                     restore_id: Any) -> dict:
        validate.require_project(ctx)
        restore_id = validate.record_id(restore_id, "restore_id")
        return self.store.get_restore(restore_id, ctx.project_id)

    def list_restores(self, ctx: o_context.RequestContext,
                      filters: Any = None, limit: Any = None,
                      marker: Any = None,
                      all_projects: bool = False) -> list[dict]:
        validate.require_project(ctx)
        filters, limit, marker = self.listing(filters, limit, marker)
        return self.store.list_restores(
            None if all_projects else ctx.project_id, filters, limit,
            marker)

    def listing(self, filters: Any, limit: Any, marker: Any
                ) -> tuple[dict, int, str | None]:
        """A list's arguments checked; the page at most
        ``[share_worker] max_page_size``, and that by default."""
        return validate.listing(filters, limit, marker,
                                self._conf.share_worker.max_page_size)

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
                                    resource_type: Any, resource_id: Any,
                                    any_project: bool = False) -> list[dict]:
        """What depends on *resource_id*; another project's only with
        *any_project* (the caller's all-projects rule allows it)."""
        validate.require_project(ctx)
        self.registry.protectable(resource_type)
        if not isinstance(resource_id, str) or not resource_id:
            raise exception.InvalidInput(
                reason="resource_id must be a non-empty string")
        if self.registry.dependent_types(resource_type) and \
                resource_id != ctx.project_id and not any_project:
            raise exception.Forbidden(
                reason="policy does not allow share_worker:protectable:"
                       "get_all_projects to this request's token: it may "
                       "list the resources of its own project only")
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
