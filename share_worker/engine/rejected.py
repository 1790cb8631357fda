"""Status events for refused casts: nobody waits for a cast's reply, so
a protect / restore / delete refused before it was recorded is reported
as its ``.error`` event, shaped like the record it would have made::

    event_type, payload = rejected_event("protect", ctx, args, error, now)
    # share_worker.checkpoint.protect.error, {"id": None, ..., "error": ...}

Only an authenticated caller's refusals are reported, inside its own
project, and an event names no record the caller can't see: it names
the caller's own checkpoint (handed in as *checkpoint*), or the id the
caller chose when no record has it (*named*), never another project's
record; a "not found" message says nothing of the id.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from oslo_context import context as o_context

from share_worker import exception
from share_worker.db.store import isotime
from share_worker.engine import validate

EVENT_TYPES = {
    "protect": "share_worker.checkpoint.protect.error",
    "delete": "share_worker.checkpoint.delete.error",
    "restore": "share_worker.restore.error",
}


#: a refused request's options are echoed only up to this JSON size
MAX_ECHOED_OPTIONS = 4096


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= 255 else None


def _resource(value: Any) -> dict | None:
    try:
        value = validate.resource_ref(value)
    except exception.InvalidInput:
        return None
    return {"type": value["type"], "id": value["id"],
            "name": _str_or_none(value.get("name")), "extra_info": _bounded(
                value.get("extra_info"))}


def _bounded(value: Any) -> dict:
    """*value* if it is a small enough object, else ``{}``."""
    if not isinstance(value, dict):
        return {}
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError):
        return {}
    return value if size <= MAX_ECHOED_OPTIONS else {}


def rejected_event(kind: str, ctx: o_context.RequestContext, args: dict,
                   error: exception.ShareWorkerError,
                   now: datetime.datetime,
                   checkpoint: dict | None = None,
                   named: str | None = None) -> tuple[str, dict]:
    """(event_type, payload) for a refused *kind* request."""
    stamp = isotime(now)
    options = _bounded(args.get("options"))
    if isinstance(error, exception.CheckpointNotFound):
        reported = {"code": error.code,
                    "message": "the checkpoint_id names no checkpoint of "
                               "project %s" % ctx.project_id}
    else:
        reported = error.to_error()
    if kind == "restore":
        payload = {
            "id": None, "project_id": ctx.project_id,
            "checkpoint_id": named,
            "status": "fail", "options": options,
            "target": {"share_id": None, "mode": None},
            "error": reported, "created_at": stamp,
            "updated_at": stamp}
    elif kind == "delete" and checkpoint is not None:
        payload = dict(checkpoint, error=reported)
    else:
        payload = {
            "id": named, "project_id": ctx.project_id,
            "resource": _resource(args.get("resource")),
            "status": "error", "options": options, "saved_info": {},
            "trigger": "rpc", "policy_id": None, "error": reported,
            "created_at": stamp, "updated_at": stamp}
    return EVENT_TYPES[kind], payload
