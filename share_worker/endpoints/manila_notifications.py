"""Notification endpoint for Manila's own events (DESIGN section 5).

Unpacks ``share.*.end`` payloads and hands them to the engine, which
protects the share with the policies the event triggers, or takes a
deleted share out of its policies::

    endpoint = ManilaNotificationEndpoint(engine)
    listener = messaging.manila_notification_listener(conf, endpoint)

A notification that is not what Manila sends is logged and dropped: it
never comes back. ``Busy`` and ``StoreUnavailable`` reach the listener,
which tries the message again with backoff (a bounded number of times
for ``Busy``).
"""

from __future__ import annotations

import logging
from typing import Any

from share_worker import exception
from share_worker.engine import policy_doc, validate

LOG = logging.getLogger(__name__)

#: the events acted on
EVENTS = policy_doc.TRIGGER_EVENTS + ("share.delete.end",)


class ManilaNotificationEndpoint:
    """Manila's INFO share events; everything else is ignored."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def handle(self, notification: Any) -> None:
        """Act on one notification (``wire.Notification``)."""
        event_type = notification.event_type
        if notification.priority.upper() != "INFO" or \
                event_type not in EVENTS:
            return
        try:
            project_id, share_id = _share_of(notification.payload)
        except exception.InvalidInput as e:
            LOG.warning("Manila %s from %s dropped: %s", event_type,
                        validate.quote(notification.publisher_id), e.message)
            return
        key = "event:" + notification.message_id[:128]
        try:
            made = self.engine.on_share_event(event_type, project_id,
                                              share_id, key)
        except (exception.StoreUnavailable, exception.Busy):
            raise
        except Exception:
            LOG.exception("Manila %s of share %s (project %s) dropped",
                          event_type, share_id, project_id)
            return
        if made:
            LOG.info("Manila %s: share %s protected in checkpoint(s) %s",
                     event_type, share_id, ", ".join(c["id"] for c in made))


def _share_of(payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        raise exception.InvalidInput(
            reason="payload is %s, not an object" % type(payload).__name__)
    share_id = payload.get("share_id")
    project_id = payload.get("project_id")
    validate.resource_id(share_id, "payload share_id")
    if not isinstance(project_id, str) or not project_id or \
            len(project_id) > 255:
        raise exception.InvalidInput(
            reason="payload project_id %s is not a project id"
                   % validate.quote(project_id))
    return project_id, share_id
