"""Protection policies (contract 1.1): the engine's policy methods and
the protect run that scheduled ticks and Manila events share::

    policy = engine.create_policy(ctx, {"name": "nightly",
                                        "resources": {"all_shares": True},
                                        "schedule": {"interval_seconds": 3600},
                                        "retention": {"max_count": 24}})
    engine.update_policy(ctx, policy["id"], {"enabled": False})
    engine.run_policy(row, owner_ctx, "schedule", key="2026-11-25T10:00")

A project sees only its own policies. A run's checkpoint ids are derived
from the policy, the share and the run's key (the tick, or the Manila
message id), so a run repeated after a crash, a takeover or a duplicate
delivery finds the checkpoints it already made instead of making more.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_context import context as o_context

from share_worker import exception
from share_worker.db.policies import PolicyStore
from share_worker.engine import policy_doc, validate
from share_worker.engine.ids import (  # noqa: F401 - re-exported
    request_record_id,
    run_checkpoint_id,
)
from share_worker.scheduler import schedule as schedule_mod

LOG = logging.getLogger(__name__)

#: what policies protect
RESOURCE_TYPE = "OS::Manila::Share"


class PolicyMethods:
    """Mixed into the Engine; needs ``policies``, ``actor``, ``registry``,
    ``protect`` and ``_clock``."""

    policies: PolicyStore
    actor: Any
    _conf: Any
    registry: Any
    #: called after a policy is created or changed (the scheduler wakes)
    policy_watchers: list

    def _policy_changed(self) -> None:
        for watcher in self.policy_watchers:
            watcher()

    def _policy_plugin(self) -> Any:
        return self.registry.protection(RESOURCE_TYPE)

    def _check_period(self, schedule: dict | None) -> None:
        """InvalidInput when *schedule* runs more often than
        ``[share_worker] min_schedule_interval``."""
        if not schedule:
            return
        least = self._conf.share_worker.min_schedule_interval
        period = schedule_mod.shortest_period(schedule, below=least)
        if period < least:
            raise exception.InvalidInput(
                reason="schedule: runs as often as every %d s; the worker "
                       "allows at most one run every %d s "
                       "(min_schedule_interval)" % (period, least))

    @staticmethod
    def _next_run(schedule: dict | None, enabled: bool, now: Any,
                  anchor: Any) -> Any:
        if not enabled or not schedule:
            return None
        return schedule_mod.next_run(schedule, now, anchor=anchor)

    def create_policy(self, ctx: o_context.RequestContext, policy: Any,
                      request_key: str | None = None) -> dict:
        """Create a policy; its id is derived from *request_key* (the
        request's unique id) if given, so a redelivery makes no other."""
        validate.require_project(ctx)
        values = policy_doc.new_policy(policy, self._policy_plugin())
        self._check_period(values["schedule"])
        policy_id = request_record_id("policy", ctx.project_id, request_key)
        if request_key:
            try:     # a redelivered request: the first delivery's record
                return self.policies.get(policy_id, ctx.project_id)
            except exception.PolicyNotFound:
                pass
        most = self._conf.share_worker.max_policies_per_project
        count = self.policies.count(ctx.project_id)
        if count >= most:
            raise exception.QuotaExceeded(
                "project %s has %d protection policies already "
                "(max_policies_per_project=%d); delete one first"
                % (ctx.project_id, count, most))
        now = self._clock()
        values.update(id=policy_id, project_id=ctx.project_id,
                      user_id=ctx.user_id, created_at=now, updated_at=now)
        values["next_run_at"] = self._next_run(
            values["schedule"], values["enabled"], now, now)
        values["trust_id"] = self.actor.delegate(ctx)
        try:
            record, created = self.policies.create(values)
        except Exception:
            self.actor.revoke(values["trust_id"], ctx)
            raise
        if not created:
            self.actor.revoke(values["trust_id"], ctx)
            if record["project_id"] != ctx.project_id:
                raise exception.InvalidInput(
                    reason="the policy id is not available; retry")
            return record
        self._policy_changed()
        LOG.info("Policy %s (%s) created for project %s; next run %s "
                 "(request %s)", record["id"], record["name"],
                 ctx.project_id, record["next_run_at"], ctx.request_id)
        return record

    def show_policy(self, ctx: o_context.RequestContext,
                    policy_id: Any) -> dict:
        validate.require_project(ctx)
        policy_id = validate.record_id(policy_id, "policy_id")
        return self.policies.get(policy_id, ctx.project_id)

    def list_policies(self, ctx: o_context.RequestContext,
                      filters: Any = None, limit: Any = None,
                      marker: Any = None,
                      all_projects: bool = False) -> list[dict]:
        validate.require_project(ctx)
        filters, limit, marker = self.listing(filters, limit, marker)
        return self.policies.list(None if all_projects else ctx.project_id,
                                  filters, limit, marker)

    def update_policy(self, ctx: o_context.RequestContext, policy_id: Any,
                      changes: Any) -> dict:
        validate.require_project(ctx)
        policy_id = validate.record_id(policy_id, "policy_id")
        values = policy_doc.changes(changes, self._policy_plugin())
        if "schedule" in values:
            self._check_period(values["schedule"])
        row = self.policies.get_row(policy_id, ctx.project_id)
        now = self._clock()
        if "schedule" in values or "enabled" in values:
            values["next_run_at"] = self._next_run(
                values.get("schedule", row.schedule),
                values.get("enabled", row.enabled), now, row.created_at)
        values["updated_at"] = now
        record = self.policies.update(policy_id, ctx.project_id, values)
        self._policy_changed()
        LOG.info("Policy %s updated (%s) (request %s)", policy_id,
                 ", ".join(sorted(set(values) - {"updated_at"})),
                 ctx.request_id)
        return record

    def delete_policy(self, ctx: o_context.RequestContext,
                      policy_id: Any) -> None:
        validate.require_project(ctx)
        policy_id = validate.record_id(policy_id, "policy_id")
        row = self.policies.delete(policy_id, ctx.project_id)
        self.actor.revoke(row.trust_id, ctx)
        LOG.info("Policy %s deleted; its checkpoints stay (request %s)",
                 policy_id, ctx.request_id)

    # -- runs --

    def policy_shares(self, row: Any, ctx: o_context.RequestContext,
                      share_id: str | None = None) -> list[dict]:
        """The shares *row* protects now (only *share_id*, if given)."""
        resources = row.resources or {}
        if "share_ids" in resources:
            ids = resources["share_ids"]
            if share_id is not None:
                ids = [s for s in ids if s == share_id]
            return [{"type": RESOURCE_TYPE, "id": s} for s in ids]
        plugin = self.registry.protectable(RESOURCE_TYPE)
        if share_id is not None and "all_shares" in resources:
            # One share of the project: read it rather than list them all.
            try:
                found = [plugin.show_resource(ctx, share_id)]
            except exception.ResourceNotFound:
                return []
            found = [r for r in found if r["extra_info"].get("protectable")]
        else:
            parameters = ({"metadata": resources["metadata"]}
                          if "metadata" in resources else None)
            found = plugin.list_resources(ctx, parameters)
        return [{"type": RESOURCE_TYPE, "id": r["id"], "name": r.get("name")}
                for r in found if share_id is None or r["id"] == share_id]

    def run_policy(self, row: Any, ctx: o_context.RequestContext,
                   trigger: str, key: str,
                   share_id: str | None = None) -> list[dict]:
        """Protect the policy's shares once for run *key*; a share whose
        previous checkpoint of this policy is still protecting is skipped
        (runs coalesce). Raises Busy when the worker is full (the run is
        repeated later and finds what it already made)."""
        made = []
        for resource in self.policy_shares(row, ctx, share_id):
            cid = run_checkpoint_id(row.id, resource["id"], key)
            running = [c for c in self.policies.protecting(
                row.id, resource["id"]) if c != cid]
            if running:
                LOG.info("Policy %s: share %s still protecting in checkpoint "
                         "%s; run %s coalesced into it", row.id,
                         resource["id"], running[0], key)
                continue
            try:
                made.append(self.protect(ctx, resource, row.options, cid,
                                         trigger=trigger, policy_id=row.id))
            except exception.Busy:
                raise
            except exception.ShareWorkerError as e:
                LOG.warning("Policy %s: share %s not protected in run %s: "
                            "%s", row.id, resource["id"], key, e)
        return made

    # -- Manila events --

    def on_share_event(self, event_type: str, project_id: str,
                       share_id: str, key: str) -> list[dict]:
        """React to Manila's *event_type* for *share_id*: protect it with
        the project's policies triggered by it; a deleted share leaves
        the policies naming it."""
        if event_type == "share.delete.end":
            retired = self.policies.retire_share(project_id, share_id,
                                                 self._clock())
            if retired:
                LOG.info("Share %s deleted: removed from policies %s",
                         share_id, ", ".join(retired))
            return []
        made = []
        for row in self.policies.triggered_by(project_id, event_type):
            made.extend(self.run_policy(row, self.actor.context(row),
                                        "event", key, share_id=share_id))
        return made
