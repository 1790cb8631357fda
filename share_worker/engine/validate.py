"""Checks of request arguments shared by every engine method.

Each raises InvalidInput (or Forbidden for a context without a project)
with a message naming the argument::

    validate.record_id("cp-1", "checkpoint_id")      # 'cp-1'
    validate.resource_id("0b7c...", "resource.id")   # a share id
    validate.resource_ref({"type": "OS::Manila::Share", "id": "abc"})
"""

from __future__ import annotations

import json
import re
from typing import Any

from oslo_context import context as o_context

from share_worker import exception

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
#: a resource id goes into Manila URLs: no '/', '?', '%', spaces, ...
_RESOURCE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,254}")
#: resource.extra_info is stored with the checkpoint and sent in each of
#: its events: a caller passes back what list_protectable_instances gave
MAX_EXTRA_INFO = 16384
#: longest value quoted back in an error message
_MAX_QUOTE = 64
#: context keys never written to the store
_SECRET_KEYS = ("auth_token", "service_token", "auth_token_info")


def require_project(ctx: o_context.RequestContext) -> None:
    if not getattr(ctx, "project_id", None):
        raise exception.Forbidden(reason="the request context names no "
                                         "project_id")


def quote(value: Any) -> str:
    """*value* for an error message, cut short."""
    text = repr(value)
    return text if len(text) <= _MAX_QUOTE else "%s... (%d characters)" % (
        text[:_MAX_QUOTE], len(text))


def record_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise exception.InvalidInput(
            reason="%s must be a string of 1-64 letters, digits, '.', '_', "
                   "':' or '-' starting with a letter or digit (a UUID "
                   "fits), not %s" % (name, quote(value)))
    return value


def resource_id(value: Any, name: str = "resource_id") -> str:
    """A protectable resource's id (a share id, a project id)."""
    if not isinstance(value, str) or not _RESOURCE_ID_RE.fullmatch(value):
        raise exception.InvalidInput(
            reason="%s must be a string of 1-255 letters, digits, '.', "
                   "'_', ':' or '-' starting with a letter or digit, not %s"
                   % (name, quote(value)))
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
    rtype = value.get("type")
    if not isinstance(rtype, str) or not rtype.strip() or len(rtype) > 255:
        raise exception.InvalidInput(
            reason="resource.type must be a resource type name such as "
                   "OS::Manila::Share, not %s" % quote(rtype))
    resource_id(value.get("id"), "resource.id")
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 255):
        raise exception.InvalidInput(
            reason="resource.name must be a string of at most 255 "
                   "characters, not %s" % quote(name))
    extra = value.get("extra_info")
    if extra is not None and not isinstance(extra, dict):
        raise exception.InvalidInput(
            reason="resource.extra_info must be an object")
    if extra and len(json.dumps(extra)) > MAX_EXTRA_INFO:
        raise exception.InvalidInput(
            reason="resource.extra_info is larger than %d bytes as JSON"
                   % MAX_EXTRA_INFO)
    return dict(value)


def listing(filters: Any, limit: Any, marker: Any, max_page_size: int
            ) -> tuple[dict, int, str | None]:
    """(filters without ``all_projects``, limit, marker): the limit is
    *max_page_size* when not given and at most that."""
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise exception.InvalidInput(
            reason="filters must be an object, not %s"
                   % type(filters).__name__)
    filters = {k: v for k, v in filters.items() if k != "all_projects"}
    for key, value in filters.items():
        if value is not None and not isinstance(value, str):
            raise exception.InvalidInput(
                reason="filter %s must be a string, not %s" % (
                    quote(key), type(value).__name__))
    if limit is None:
        limit = max_page_size
    elif isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise exception.InvalidInput(
            reason="limit must be a positive integer (at most %d are "
                   "returned), not %s" % (max_page_size, quote(limit)))
    limit = min(limit, max_page_size)
    if marker is not None:
        marker = record_id(marker, "marker")
    return filters, limit, marker


def storable(ctx: o_context.RequestContext) -> dict:
    """The context as stored with an operation: no secrets."""
    values = ctx.to_dict()
    for key in _SECRET_KEYS:
        values.pop(key, None)
    return values
