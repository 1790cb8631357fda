"""Who may call which RPC method: share_worker's oslo.policy rules, in
code, with the defaults of DESIGN section 7 (secure-RBAC personas of
the token's project)::

    authorizer = Authorizer(conf)            # reads [oslo_policy]
    authorizer.authorize("checkpoint:create", ctx)   # or Forbidden
    authorizer.allowed("checkpoint:get_all_projects", ctx)   # a bool

An operator overrides any default in the file ``[oslo_policy]
policy_file`` names (``policy.yaml`` beside the configuration file); a
changed file takes effect within :data:`DECISION_TTL` seconds: decisions
are remembered that long, keyed by the rule, the token's policy values
and the target, since an oslo.policy check costs 0.2-0.3 ms (it looks
for the policy file on every call) and the same caller asks the same
question thousands of times a second in a burst. The sample in
``etc/share_worker/policy.yaml.sample`` is what
``oslopolicy-sample-generator --namespace share_worker`` prints, through
the ``oslo.policy.policies`` entry point (:func:`list_rules`);
``oslopolicy-policy-generator --namespace share_worker`` prints the
effective rules through ``oslo.policy.enforcer`` (:func:`get_enforcer`).

The target of every check is the caller's own project: records are
always those of the token's project, except where an ``all_projects``
rule widens the view.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable

from oslo_config import cfg
from oslo_context import context as o_context
from oslo_policy import policy

from share_worker import exception

PREFIX = "share_worker:"

#: seconds a decision is remembered (and so the longest a changed policy
#: file waits to take effect)
DECISION_TTL = 1.0
#: distinct (rule, caller, target) decisions remembered at most; more
#: start the memory afresh
DECISION_CACHE_SIZE = 4096

READER = "role:reader and project_id:%(project_id)s"
MEMBER = "role:member and project_id:%(project_id)s"
ADMIN = "role:admin"
#: every list's all-projects view follows the checkpoints' one unless an
#: operator sets it apart
ALL_PROJECTS = "rule:" + PREFIX + "checkpoint:get_all_projects"

#: what a caller is in noauth mode, whatever it claims: a member of the
#: project its context names (there is no identity to check)
NOAUTH_ROLES = ("reader", "member")


def _rule(name: str, check: str, description: str,
          methods: tuple[str, ...]) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=PREFIX + name, check_str=check, description=description,
        operations=[{"path": method, "method": "RPC"}
                    for method in methods],
        scope_types=["project"])


RULES = (
    _rule("checkpoint:create", MEMBER,
          "Protect a resource: make a checkpoint.", ("protect",)),
    _rule("checkpoint:get", READER, "Show a checkpoint.",
          ("show_checkpoint",)),
    _rule("checkpoint:get_all", READER, "List the project's checkpoints.",
          ("list_checkpoints",)),
    _rule("checkpoint:delete", MEMBER,
          "Delete a checkpoint and its snapshot.", ("delete",)),
    _rule("checkpoint:get_all_projects", ADMIN,
          "List the records of every project (filters "
          "{\"all_projects\": true}); the other all-projects rules "
          "follow this one by default.",
          ("list_checkpoints",)),
    _rule("restore:create", MEMBER,
          "Restore a checkpoint (a new share, or a revert).",
          ("restore",)),
    _rule("restore:get", READER, "Show a restore.", ("show_restore",)),
    _rule("restore:get_all", READER, "List the project's restores.",
          ("list_restores",)),
    _rule("restore:get_all_projects", ALL_PROJECTS,
          "List the restores of every project.", ("list_restores",)),
    _rule("protectable:get", READER,
          "Show a protectable type, instance or plugin schemas.",
          ("show_protectable_type", "show_protectable_instance",
           "show_plugin_schemas")),
    _rule("protectable:get_all", READER,
          "List protectable types, instances and dependents.",
          ("list_protectable_types", "list_protectable_instances",
           "list_protectable_dependents")),
    _rule("protectable:get_all_projects", ALL_PROJECTS,
          "List the resources that depend on another project "
          "(its shares, read with the worker's own credentials).",
          ("list_protectable_dependents",)),
    _rule("policy:create", MEMBER, "Create a protection policy.",
          ("create_policy",)),
    _rule("policy:get", READER, "Show a protection policy.",
          ("show_policy",)),
    _rule("policy:get_all", READER, "List the project's protection "
          "policies.", ("list_policies",)),
    _rule("policy:get_all_projects", ALL_PROJECTS,
          "List the protection policies of every project.",
          ("list_policies",)),
    _rule("policy:update", MEMBER, "Change a protection policy.",
          ("update_policy",)),
    _rule("policy:delete", MEMBER, "Delete a protection policy.",
          ("delete_policy",)),
)

RULE_NAMES = frozenset(rule.name for rule in RULES)


def list_rules() -> list[policy.RuleDefault]:
    """The rules in code (the ``oslo.policy.policies`` entry point)."""
    return list(RULES)


def get_enforcer() -> policy.Enforcer:
    """An enforcer on the configuration files the command line names
    (``--config-file``, ``--config-dir``), else the default ones: the
    ``oslo.policy.enforcer`` entry point of oslopolicy-policy-generator
    and oslopolicy-checker."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config-file", action="append", default=[])
    parser.add_argument("--config-dir", action="append", default=[])
    known, _ = parser.parse_known_args(sys.argv[1:])
    args = [a for f in known.config_file for a in ("--config-file", f)]
    args += [a for d in known.config_dir for a in ("--config-dir", d)]
    conf = cfg.ConfigOpts()
    conf(args, project="share_worker")
    return _enforcer(conf)


def _enforcer(conf: cfg.ConfigOpts) -> policy.Enforcer:
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(RULES)
    return enforcer


def _frozen(values: object) -> object:
    """A hashable copy of a context's policy values (lists and dicts
    inside included)."""
    if isinstance(values, dict) or hasattr(values, "items"):
        return tuple(sorted((k, _frozen(v)) for k, v in values.items()))
    if isinstance(values, (list, tuple, set, frozenset)):
        return tuple(sorted(map(str, values)))
    return values


class Authorizer:
    """Checks an authenticated context against the rules."""

    def __init__(self, conf: cfg.ConfigOpts | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """*conf*: the worker's configuration (``[oslo_policy]``); None:
        the defaults in code only. *clock* ages remembered decisions."""
        if conf is None:
            conf = cfg.ConfigOpts()
            conf([], default_config_files=[], default_config_dirs=[])
        self._enforcer = _enforcer(conf)
        self._clock = clock
        self._lock = threading.Lock()
        self._decisions: dict[tuple, bool] = {}
        self._born = clock()

    def check_policy_file(self) -> None:
        """Read the operator's policy file now; ConfigurationError naming
        what is wrong with it."""
        with self._lock:
            self._decisions = {}
        try:
            self._enforcer.load_rules(force_reload=True)
            self._enforcer.check_rules(raise_on_violation=True)
        except Exception as e:  # noqa: BLE001 - any parse error
            raise exception.ConfigurationError(
                reason="the policy file ([oslo_policy] policy_file) can't "
                       "be used: %s" % e) from e

    def allowed(self, name: str, ctx: o_context.RequestContext,
                project_id: str | None = None) -> bool:
        """Whether rule ``share_worker:<name>`` lets *ctx* act on
        *project_id* (default: its own project)."""
        target = {"project_id": project_id or ctx.project_id,
                  "user_id": ctx.user_id}
        key = (name, target["project_id"], _frozen(ctx.to_policy_values()))
        now = self._clock()
        with self._lock:
            if now - self._born >= DECISION_TTL \
                    or len(self._decisions) >= DECISION_CACHE_SIZE:
                self._decisions = {}
                self._born = now
            decisions = self._decisions
            known = decisions.get(key)
        if known is not None:
            return known
        try:
            allowed = bool(self._enforcer.authorize(
                PREFIX + name, target, ctx, do_raise=False))
        except policy.InvalidScope:
            allowed = False
        # Into the memory it was decided under: a reload in between
        # started a new one, which this decision must not enter.
        decisions[key] = allowed
        return allowed

    def authorize(self, name: str, ctx: o_context.RequestContext,
                  project_id: str | None = None) -> None:
        """Forbidden naming the rule unless it allows *ctx*."""
        if not self.allowed(name, ctx, project_id):
            raise exception.Forbidden(
                reason="policy does not allow %s%s to this request's "
                       "token" % (PREFIX, name))
