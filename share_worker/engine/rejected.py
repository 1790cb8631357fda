"""Status events for refused casts: nobody waits for a cast's reply, so
a protect / restore / delete refused before it was recorded is reported
as its ``.error`` event, shaped like the record it would have made::

    event_type, payload = rejected_event("protect", ctxt, args, error, now)
    # share_worker.checkpoint.protect.error, {"id": None, ..., "error": ...}
"""

from __future__ import annotations

import datetime
from typing import Any

from share_worker import exception
from share_worker.db.store import isotime

EVENT_TYPES = {
    "protect": "share_worker.checkpoint.protect.error",
    "delete": "share_worker.checkpoint.delete.error",
    "restore": "share_worker.restore.error",
}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _project(ctxt: Any) -> str | None:
    project = getattr(ctxt, "project_id", None)
    if project is None and isinstance(ctxt, dict):
        project = ctxt.get("project_id") or ctxt.get("project")
    return _str_or_none(project)


def _resource(value: Any) -> dict | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(value.get(k), str) for k in ("type", "id")):
        return None
    extra = value.get("extra_info")
    return {"type": value["type"], "id": value["id"],
            "name": _str_or_none(value.get("name")),
            "extra_info": extra if isinstance(extra, dict) else {}}


def rejected_event(kind: str, ctxt: Any, args: dict,
                   error: exception.ShareWorkerError,
                   now: datetime.datetime,
                   checkpoint: dict | None = None) -> tuple[str, dict]:
    """(event_type, payload) for a refused *kind* request."""
    stamp = isotime(now)
    options = args.get("options")
    options = options if isinstance(options, dict) else {}
    if kind == "restore":
        payload = {
            "id": None, "project_id": _project(ctxt),
            "checkpoint_id": _str_or_none(args.get("checkpoint_id")),
            "status": "fail", "options": options,
            "target": {"share_id": None, "mode": None},
            "error": error.to_error(), "created_at": stamp,
            "updated_at": stamp}
    elif checkpoint is not None:
        payload = dict(checkpoint, error=error.to_error())
    else:
        payload = {
            "id": _str_or_none(args.get("checkpoint_id")),
            "project_id": _project(ctxt),
            "resource": _resource(args.get("resource")),
            "status": "error", "options": options, "saved_info": {},
            "trigger": "rpc", "policy_id": None, "error": error.to_error(),
            "created_at": stamp, "updated_at": stamp}
    return EVENT_TYPES[kind], payload
