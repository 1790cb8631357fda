"""RPC endpoint for protection policies (contract version 1.1, DESIGN
section 3.1). Callers prepare their client with ``version='1.1'``::

    endpoint = PolicyEndpoint(engine, auth_strategy="keystone")
    server = messaging.rpc_server(conf, [endpoint, ...])
"""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context

from share_worker.endpoints.base import Call, Endpoint, rpc_method


class PolicyEndpoint(Endpoint):
    """create, show, list, update and delete protection policies."""

    @rpc_method("policy", rule="policy:create")
    def create_policy(self, ctx: o_context.RequestContext, call: Call,
                      policy: Any) -> dict:
        return self.engine.create_policy(ctx, policy, request_key=call.key)

    @rpc_method("policy_id", rule="policy:get")
    def show_policy(self, ctx: o_context.RequestContext,
                    policy_id: Any) -> dict:
        return self.engine.show_policy(ctx, policy_id)

    @rpc_method("filters", "limit", "marker", rule="policy:get_all")
    def list_policies(self, ctx: o_context.RequestContext,
                      filters: Any = None, limit: Any = None,
                      marker: Any = None) -> list:
        return self.engine.list_policies(
            ctx, filters, limit, marker, all_projects=self.all_projects(
                ctx, filters, "policy:get_all_projects"))

    @rpc_method("policy_id", "changes", rule="policy:update")
    def update_policy(self, ctx: o_context.RequestContext, policy_id: Any,
                      changes: Any) -> dict:
        return self.engine.update_policy(ctx, policy_id, changes)

    @rpc_method("policy_id", rule="policy:delete")
    def delete_policy(self, ctx: o_context.RequestContext,
                      policy_id: Any) -> None:
        self.engine.delete_policy(ctx, policy_id)
