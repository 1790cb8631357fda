"""Checks of a protection policy document (DESIGN section 3.1).

Each field has its own check; each failure is an ``InvalidInput`` naming
the field and what is wrong::

    values = policy_doc.new_policy({"name": "nightly",
                                    "resources": {"all_shares": True},
                                    "schedule": {"cron": "0 2 * * *",
                                                 "timezone": "Europe/Paris"},
                                    "retention": {"max_count": 7}},
                                   protection_plugin)
    changes = policy_doc.changes({"enabled": False}, protection_plugin)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from share_worker import exception
from share_worker.engine import validate
from share_worker.scheduler import retention as retention_mod
from share_worker.scheduler import schedule as schedule_mod

#: Manila events a policy may be triggered by: the ends of the changes
#: that leave a share usable (Manila sends nothing for snapshots)
TRIGGER_EVENTS = ("share.create.end", "share.extend.end",
                  "share.shrink.end")
MAX_SHARE_IDS = 1000
MAX_METADATA = 64
_RESOURCE_KINDS = ("share_ids", "all_shares", "metadata")
#: read-only fields of the record, refused in a create or an update
READ_ONLY = ("id", "project_id", "next_run_at", "created_at",
             "updated_at")
DEFAULTS: dict[str, Any] = {"enabled": True, "schedule": None,
                            "retention": None, "options": {},
                            "triggers": []}


def _name(value: Any, plugin: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise exception.InvalidInput(
            reason="policy name must be a non-empty string of at most 255 "
                   "characters, not %s" % validate.quote(value))
    return value


def _enabled(value: Any, plugin: Any) -> bool:
    if not isinstance(value, bool):
        raise exception.InvalidInput(
            reason="policy enabled must be true or false, not %s"
                   % validate.quote(value))
    return value


def _resources(value: Any, plugin: Any) -> dict:
    if not isinstance(value, dict) or len(value) != 1 or \
            next(iter(value)) not in _RESOURCE_KINDS:
        raise exception.InvalidInput(
            reason="policy resources must be exactly one of "
                   "{\"share_ids\": [...]}, {\"all_shares\": true} or "
                   "{\"metadata\": {\"key\": \"value\"}}, not %s"
                   % validate.quote(value))
    kind, spec = next(iter(value.items()))
    if kind == "all_shares":
        if spec is not True:
            raise exception.InvalidInput(
                reason="policy resources.all_shares must be true, not %s"
                       % validate.quote(spec))
        return {"all_shares": True}
    if kind == "share_ids":
        if not isinstance(spec, list) or not spec or \
                len(spec) > MAX_SHARE_IDS:
            raise exception.InvalidInput(
                reason="policy resources.share_ids must be a list of 1 to "
                       "%d share ids, not %s" % (MAX_SHARE_IDS,
                                                 validate.quote(spec)))
        ids = [validate.resource_id(s, "policy resources.share_ids[%d]" % i)
               for i, s in enumerate(spec)]
        return {"share_ids": list(dict.fromkeys(ids))}
    if not isinstance(spec, dict) or not spec or len(spec) > MAX_METADATA:
        raise exception.InvalidInput(
            reason="policy resources.metadata must be an object of 1 to %d "
                   "key/value pairs, not %s" % (MAX_METADATA,
                                                validate.quote(spec)))
    for key, item in spec.items():
        if not isinstance(item, str) or not key or len(key) > 255 or \
                len(item) > 1023:
            raise exception.InvalidInput(
                reason="policy resources.metadata must map non-empty keys "
                       "of at most 255 characters to strings of at most "
                       "1023; %s: %s is not one" % (validate.quote(key),
                                                     validate.quote(item)))
    return {"metadata": dict(spec)}


def _schedule(value: Any, plugin: Any) -> dict | None:
    return schedule_mod.validate_schedule(value)


def _retention(value: Any, plugin: Any) -> dict | None:
    return retention_mod.validate_retention(value)


def _options(value: Any, plugin: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise exception.InvalidInput(
            reason="policy options must be an object, not %s"
                   % type(value).__name__)
    # Checked as a protect's would be; stored as given, so each checkpoint
    # still gets its own snapshot name unless the policy sets one.
    plugin.prepare_protect("policy", value)
    return dict(value)


def _triggers(value: Any, plugin: Any) -> list[str]:
    if not isinstance(value, list) or any(
            not isinstance(t, str) or t not in TRIGGER_EVENTS
            for t in value):
        raise exception.InvalidInput(
            reason="policy triggers must be a list of Manila event types "
                   "among %s, not %s" % (", ".join(TRIGGER_EVENTS),
                                         validate.quote(value)))
    return list(dict.fromkeys(value))


FIELDS: dict[str, Callable[[Any, Any], Any]] = {
    "name": _name, "enabled": _enabled, "resources": _resources,
    "schedule": _schedule, "retention": _retention, "options": _options,
    "triggers": _triggers,
}


def _check_keys(doc: Any, what: str) -> None:
    if not isinstance(doc, dict):
        raise exception.InvalidInput(
            reason="%s must be an object, not %s" % (what,
                                                     type(doc).__name__))
    read_only = sorted(set(doc) & set(READ_ONLY))
    if read_only:
        raise exception.InvalidInput(
            reason="%s may not set the read-only field(s) %s" % (
                what, ", ".join(read_only)))
    unknown = sorted(set(doc) - set(FIELDS), key=str)
    if unknown:
        raise exception.InvalidInput(
            reason="unknown %s field(s) %s; allowed: %s" % (
                what, ", ".join(validate.quote(k) for k in unknown),
                ", ".join(FIELDS)))


def new_policy(doc: Any, plugin: Any) -> dict:
    """The checked fields of a policy to create, defaults filled."""
    _check_keys(doc, "policy")
    missing = [k for k in ("name", "resources") if k not in doc]
    if missing:
        raise exception.InvalidInput(
            reason="policy needs the field(s) %s" % ", ".join(missing))
    # A null where a default exists means "omitted".
    values = dict(DEFAULTS, **{k: v for k, v in doc.items()
                               if v is not None or k not in DEFAULTS})
    return {key: FIELDS[key](values[key], plugin) for key in FIELDS}


def changes(doc: Any, plugin: Any) -> dict:
    """The checked fields of an update; at least one."""
    _check_keys(doc, "changes")
    if not doc:
        raise exception.InvalidInput(
            reason="changes names no field; writable: %s"
                   % ", ".join(FIELDS))
    return {key: FIELDS[key](value, plugin) for key, value in doc.items()}
