"""Notification endpoint for Manila's own events (DESIGN section 5).

Unpacks ``share.*.end`` payloads and hands them to the engine, which
protects the share with the policies the event triggers, or takes a
deleted share out of its policies::

    endpoint = ManilaNotificationEndpoint(engine)
    listener = messaging.manila_notification_listener(conf, [endpoint])

A payload that is not what Manila sends is logged and dropped: it never
comes back. Only a store that can't be reached puts the message back on
its queue, for another try.
"""

from __future__ import annotations

import logging
from typing import Any

import oslo_messaging
import sqlalchemy.exc

from share_worker import exception
from share_worker.engine import policy_doc, validate

LOG = logging.getLogger(__name__)

#: the events acted on
EVENTS = policy_doc.TRIGGER_EVENTS + ("share.delete.end",)


class ManilaNotificationEndpoint:
    """``info`` of Manila's share events; everything else is filtered."""

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=r"^share\.[a-z_]+\.end$")

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def info(self, ctxt: Any, publisher_id: Any, event_type: Any,
             payload: Any, metadata: Any) -> Any:
        if event_type not in EVENTS:
            return oslo_messaging.NotificationResult.HANDLED
        try:
            project_id, share_id = _share_of(payload)
            key = _message_key(metadata, payload)
        except exception.InvalidInput as e:
            LOG.warning("Manila %s from %s dropped: %s", event_type,
                        validate.quote(publisher_id), e.message)
            return oslo_messaging.NotificationResult.HANDLED
        try:
            made = self.engine.on_share_event(event_type, project_id,
                                              share_id, key)
        except (sqlalchemy.exc.OperationalError, exception.Busy) as e:
            LOG.warning("Manila %s of share %s put back: %s", event_type,
                        share_id, e)
            return oslo_messaging.NotificationResult.REQUEUE
        except Exception:
            LOG.exception("Manila %s of share %s (project %s) dropped",
                          event_type, share_id, project_id)
            return oslo_messaging.NotificationResult.HANDLED
        if made:
            LOG.info("Manila %s: share %s protected in checkpoint(s) %s",
                     event_type, share_id, ", ".join(c["id"] for c in made))
        return oslo_messaging.NotificationResult.HANDLED


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


def _message_key(metadata: Any, payload: dict) -> str:
    """What tells one delivery of an event from another event: Manila's
    message id (the same on a redelivery)."""
    message_id = metadata.get("message_id") if isinstance(metadata,
                                                          dict) else None
    if isinstance(message_id, str) and message_id:
        return "event:" + message_id[:128]
    raise exception.InvalidInput(reason="the notification has no message "
                                        "id")
