"""``share-worker-ctl watch``: share_worker's status events, live::

    share-worker-ctl watch                          # all, until Ctrl-C
    share-worker-ctl watch --checkpoint CP_ID       # its events, its restores'
    share-worker-ctl --json watch --project proj-a --count 2 --timeout 60

One line per event (one JSON object per line with ``--json``). With
``--count`` it ends after that many events, exit 2 if ``--timeout`` comes
first; without, ``--timeout`` just ends it.
"""

from __future__ import annotations

import argparse
import time

from share_worker.cmd import ctl_events
from share_worker.cmd.ctl_output import Event
from share_worker.cmd.ctl_session import (
    USAGE_OR_TIMEOUT,
    Command,
    CtlError,
    Session,
    positive_int,
    seconds,
)

RESTORE_PREFIX = "share_worker.restore."


def matches(event: Event, args: argparse.Namespace) -> bool:
    """Whether *event* passes the ``watch`` filters."""
    payload = event.payload
    is_restore = event.event_type.startswith(RESTORE_PREFIX)
    if args.project_filter and payload.get("project_id") != \
            args.project_filter:
        return False
    if args.restore_id and (not is_restore
                            or payload.get("id") != args.restore_id):
        return False
    if args.checkpoint_id:
        key = "checkpoint_id" if is_restore else "id"
        return payload.get(key) == args.checkpoint_id
    return True


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", dest="checkpoint_id", metavar="ID",
                        help="only this checkpoint's events and those of "
                             "its restores")
    parser.add_argument("--restore", dest="restore_id", metavar="ID",
                        help="only this restore's events")
    parser.add_argument("--project", dest="project_filter", metavar="P",
                        help="only this project's events")
    parser.add_argument("--count", type=positive_int, metavar="N",
                        help="stop after N events")
    parser.add_argument("--timeout", dest="wait_timeout", type=seconds,
                        metavar="SECONDS",
                        help="stop after this long (default: never)")


def _run(session: Session, args: argparse.Namespace) -> int:
    inbox = ctl_events.Inbox()
    deadline = (time.monotonic() + args.wait_timeout
                if args.wait_timeout else None)
    listener = session.listen(inbox)
    seen = 0
    try:
        session.printer.note("watching %s events on topic %r (Ctrl-C stops)"
                             % (args.exchange, args.notifications_topic))
        while args.count is None or seen < args.count:
            event = inbox.next(deadline)
            if event is None:
                break
            if matches(event, args):
                session.printer.event(event)
                seen += 1
    except KeyboardInterrupt:
        return 0
    finally:
        listener.stop()
    if args.count is not None and seen < args.count:
        raise CtlError("saw %d of %d events within %ss" % (
            seen, args.count, args.wait_timeout), USAGE_OR_TIMEOUT)
    return 0


COMMANDS = {
    "watch": Command("print share_worker's status events as they come",
                     _configure, _run),
}
