"""RPC endpoint for protectable resources and plugin schemas (contract
version 1.0). Read-only; listing instances asks Manila (as the caller)::

    endpoint = ProtectablesEndpoint(engine, auth_strategy="noauth")
"""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context

from share_worker.endpoints.base import Endpoint, rpc_method
from share_worker.engine import validate


class ProtectablesEndpoint(Endpoint):
    """Protectable types, instances, dependents, and plugin schemas."""

    @rpc_method(rule="protectable:get_all")
    def list_protectable_types(self, ctx: o_context.RequestContext) -> list:
        return self.engine.list_protectable_types()

    @rpc_method("resource_type", rule="protectable:get")
    def show_protectable_type(self, ctx: o_context.RequestContext,
                              resource_type: Any) -> dict:
        return self.engine.show_protectable_type(resource_type)

    @rpc_method("resource_type", "parameters",
                rule="protectable:get_all")
    def list_protectable_instances(self, ctx: o_context.RequestContext,
                                   resource_type: Any,
                                   parameters: Any = None) -> list:
        return self.engine.list_protectable_instances(ctx, resource_type,
                                                      parameters)

    @rpc_method("resource_type", "resource_id", rule="protectable:get")
    def show_protectable_instance(self, ctx: o_context.RequestContext,
                                  resource_type: Any,
                                  resource_id: Any) -> dict:
        # the id goes into a Manila URL: refuse '/', '?', '%' ... here
        return self.engine.show_protectable_instance(
            ctx, resource_type, validate.resource_id(resource_id))

    @rpc_method("resource_type", "resource_id",
                rule="protectable:get_all")
    def list_protectable_dependents(self, ctx: o_context.RequestContext,
                                    resource_type: Any,
                                    resource_id: Any) -> list:
        # another project's resources are an all-projects view
        return self.engine.list_protectable_dependents(
            ctx, resource_type, validate.resource_id(resource_id),
            any_project=self.authorizer.allowed(
                "protectable:get_all_projects", ctx))

    @rpc_method("resource_type", rule="protectable:get")
    def show_plugin_schemas(self, ctx: o_context.RequestContext,
                            resource_type: Any) -> dict:
        return self.engine.show_plugin_schemas(resource_type)
