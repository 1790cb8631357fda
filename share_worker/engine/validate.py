"""Checks of request arguments shared by every engine method.

Each raises InvalidInput (or Forbidden for a context without a project)
with a message naming the argument::

    validate.record_id("cp-1", "checkpoint_id")      # 'cp-1'
    validate.resource_ref({"type": "OS::Manila::Share", "id": "abc"})
"""

from __future__ import annotations

import re
from typing import Any

from oslo_context import context as o_context

from share_worker import exception

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MAX_LIMIT = 1000
#: context keys never written to the store
_SECRET_KEYS = ("auth_token", "service_token", "auth_token_info")


def require_project(ctx: o_context.RequestContext) -> None:
    if not getattr(ctx, "project_id", None):
        raise exception.Forbidden(reason="the request context names no "
                                         "project_id")


def record_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise exception.InvalidInput(
            reason="%s must be a string of 1-64 letters, digits, '.', '_', "
                   "':' or '-' (a UUID fits), not %r" % (name, value))
    return value


def resource_ref(value: Any) -> dict:
    if not isinstance(value, dict):
        raise exception.InvalidInput(
            reason="resource must be an object {\"type\", \"id\"}, not %s"
                   % type(value).__name__)
    unknown = sorted(set(value) - {"type", "id", "name", "extra_info"})
    if unknown:
        raise exception.InvalidInput(
            reason="unknown resource key(s) %s; allowed: type, id, name, "
                   "extra_info" % ", ".join(map(str, unknown)))
    for key in ("type", "id"):
        if not isinstance(value.get(key), str) or not value[key].strip():
            raise exception.InvalidInput(
                reason="resource.%s must be a non-empty string" % key)
    if len(value["id"]) > 255:
        raise exception.InvalidInput(reason="resource.id is too long")
    if value.get("name") is not None and not isinstance(value["name"], str):
        raise exception.InvalidInput(reason="resource.name must be a string")
    if value.get("extra_info") is not None and not isinstance(
            value["extra_info"], dict):
        raise exception.InvalidInput(
            reason="resource.extra_info must be an object")
    return dict(value)


def listing(filters: Any, limit: Any, marker: Any) -> tuple[dict, int | None,
                                                             str | None]:
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise exception.InvalidInput(
            reason="filters must be an object, not %s"
                   % type(filters).__name__)
    if limit is not None and (isinstance(limit, bool) or not isinstance(
            limit, int) or not 1 <= limit <= MAX_LIMIT):
        raise exception.InvalidInput(
            reason="limit must be an integer from 1 to %d, not %r"
                   % (MAX_LIMIT, limit))
    if marker is not None:
        marker = record_id(marker, "marker")
    return filters, limit, marker


def storable(ctx: o_context.RequestContext) -> dict:
    """The context as stored with an operation: no secrets."""
    values = ctx.to_dict()
    for key in _SECRET_KEYS:
        values.pop(key, None)
    return values
