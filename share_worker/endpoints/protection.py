"""RPC endpoint for protect / restore / delete and their records
(contract version 1.0, DESIGN section 3).

Thin: check arguments, hand to the engine, return its record (a new
one pending on its commit, which the RPC server does not wait for on a
thread of its own: :mod:`share_worker.pending`). A refused
cast is reported as a ``.error`` status event, since nobody waits for
its reply::

    endpoint = ProtectionEndpoint(engine, auth_strategy="keystone")
    server = messaging.rpc_server(conf, [endpoint, ...])
"""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context

from share_worker.endpoints.base import Call, Endpoint, rpc_method
from share_worker.pending import Pending


class ProtectionEndpoint(Endpoint):
    """protect, restore, delete, and the checkpoint / restore records."""

    @rpc_method("resource", "options", "checkpoint_id",
                operation="protect", rule="checkpoint:create")
    def protect(self, ctx: o_context.RequestContext, call: Call,
                resource: Any, options: Any = None,
                checkpoint_id: Any = None) -> dict | Pending:
        return self.engine.protect_later(ctx, resource, options,
                                         checkpoint_id, request_key=call.key)

    @rpc_method("checkpoint_id", "options", operation="restore",
                rule="restore:create")
    def restore(self, ctx: o_context.RequestContext, call: Call,
                checkpoint_id: Any, options: Any = None) -> dict | Pending:
        return self.engine.restore_later(ctx, checkpoint_id, options,
                                         request_key=call.key)

    @rpc_method("checkpoint_id", operation="delete",
                rule="checkpoint:delete")
    def delete(self, ctx: o_context.RequestContext,
               checkpoint_id: Any) -> dict:
        return self.engine.delete(ctx, checkpoint_id)

    @rpc_method("checkpoint_id", rule="checkpoint:get")
    def show_checkpoint(self, ctx: o_context.RequestContext,
                        checkpoint_id: Any) -> dict:
        return self.engine.show_checkpoint(ctx, checkpoint_id)

    @rpc_method("filters", "limit", "marker", rule="checkpoint:get_all")
    def list_checkpoints(self, ctx: o_context.RequestContext,
                         filters: Any = None, limit: Any = None,
                         marker: Any = None) -> list:
        return self.engine.list_checkpoints(
            ctx, filters, limit, marker, all_projects=self.all_projects(
                ctx, filters, "checkpoint:get_all_projects"))

    @rpc_method("restore_id", rule="restore:get")
    def show_restore(self, ctx: o_context.RequestContext,
                     restore_id: Any) -> dict:
        return self.engine.show_restore(ctx, restore_id)

    @rpc_method("filters", "limit", "marker", rule="restore:get_all")
    def list_restores(self, ctx: o_context.RequestContext,
                      filters: Any = None, limit: Any = None,
                      marker: Any = None) -> list:
        return self.engine.list_restores(
            ctx, filters, limit, marker, all_projects=self.all_projects(
                ctx, filters, "restore:get_all_projects"))
