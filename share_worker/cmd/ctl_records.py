"""Checkpoint and restore commands of ``share-worker-ctl``: ``protect``,
``restore``, ``delete``, ``show`` and ``list``::

    share-worker-ctl protect SHARE_ID --wait           # until available
    share-worker-ctl restore CHECKPOINT_ID --share-id SHARE_ID  # revert
    share-worker-ctl delete CHECKPOINT_ID --cast
    share-worker-ctl show --restore RESTORE_ID
    share-worker-ctl list --restores --status success --limit 10

``protect``, ``restore`` and ``delete`` make an RPC call and print the
record; ``--cast`` sends a cast instead; ``--wait`` then follows the
status events until the request ends (exit 1 if it failed).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from share_worker.cmd import ctl_events
from share_worker.cmd.ctl_output import (
    CHECKPOINT_COLUMNS,
    RESTORE_COLUMNS,
    event_line,
)
from share_worker.cmd.ctl_session import (
    USAGE_OR_TIMEOUT,
    Command,
    CtlError,
    Session,
    add_all_projects_argument,
    add_options_arguments,
    add_paging_arguments,
    options_from,
    seconds,
    string_pair,
)

SHARE = "OS::Manila::Share"
WAIT_TIMEOUT = 600.0

#: a request sender: returns (record from a call or None, record id)
Sender = Callable[[], tuple[dict | None, str | None]]


def _add_request_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cast", action="store_true",
                        help="send a cast (no reply) instead of a call")
    parser.add_argument("--wait", action="store_true",
                        help="follow the status events until the request "
                             "ends; exit 1 if it failed")
    parser.add_argument("--timeout", dest="wait_timeout", type=seconds,
                        default=WAIT_TIMEOUT, metavar="SECONDS",
                        help="how long --wait waits (default %(default)s)")


def _submit(session: Session, args: argparse.Namespace, kind: str,
            send: Sender) -> int:
    if not args.wait:
        record, record_id = send()
        if record is not None:
            session.printer.record(record)
        else:
            _cast_sent(session, kind, record_id)
        return 0
    inbox = ctl_events.Inbox()
    deadline = time.monotonic() + args.wait_timeout
    listener = session.listen(inbox)
    try:
        record, record_id = send()
        return _wait(session, inbox, kind, record, record_id, deadline)
    finally:
        listener.stop()


def _cast_sent(session: Session, kind: str, record_id: str | None) -> None:
    if session.printer.as_json:
        session.printer.json({"request": kind, "cast": True,
                              "checkpoint_id": record_id})
    else:
        session.printer.progress("%s request sent (cast) for checkpoint %s"
                                 % (kind, record_id))


def _wait(session: Session, inbox: ctl_events.Inbox, kind: str,
          record: dict | None, record_id: str | None,
          deadline: float) -> int:
    printer = session.printer
    spec = ctl_events.KINDS[kind]
    done = None
    if record is not None:
        record_id = record["id"]
        done = ctl_events.outcome(kind, record)
        printer.progress("%s %s: %s" % (spec.record, record_id,
                                        record.get("status")))
    if done is None:
        printer.progress("waiting for %s or %s ..." % (spec.success,
                                                      spec.failure))
        record, done = ctl_events.follow(
            inbox, kind, record_id, deadline,
            lambda event: printer.progress(event_line(event)))
    printer.record(record)
    if done:
        return 0
    error = record.get("error")
    if isinstance(error, dict):
        printer.error("%s %s ended %s: %s: %s" % (
            spec.record, record_id, record.get("status"), error.get("code"),
            error.get("message")))
    else:
        printer.error("%s %s is %s, not %s" % (
            spec.record, record_id, record.get("status"), spec.success))
    return 1


# -- protect / restore / delete --------------------------------------------

def _configure_protect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resource_id", metavar="SHARE_ID",
                        help="the resource to protect (a share id)")
    parser.add_argument("--type", dest="resource_type", default=SHARE,
                        help="its resource type (default %(default)s)")
    parser.add_argument("--checkpoint-id", metavar="ID",
                        help="the new checkpoint's id (makes the request "
                             "idempotent; a cast gets a fresh UUID)")
    add_options_arguments(parser, "protect")
    _add_request_arguments(parser)


def _run_protect(session: Session, args: argparse.Namespace) -> int:
    resource = {"type": args.resource_type, "id": args.resource_id}
    options = options_from(args) or None
    ctxt = session.context()

    def send() -> tuple[dict | None, str | None]:
        if not args.cast:
            return session.api.protect(ctxt, resource, options,
                                       args.checkpoint_id), None
        checkpoint_id = args.checkpoint_id or str(uuid.uuid4())
        session.api.cast_protect(ctxt, resource, options, checkpoint_id)
        return None, checkpoint_id

    return _submit(session, args, "protect", send)


def _configure_restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint_id", metavar="CHECKPOINT_ID")
    parser.add_argument("--share-id", help="restore to this share: the "
                        "source share reverts it in place, no share makes "
                        "a new one")
    parser.add_argument("--name", help="the new share's name")
    parser.add_argument("--description", help="the new share's description")
    add_options_arguments(parser, "restore")
    _add_request_arguments(parser)


def _run_restore(session: Session, args: argparse.Namespace) -> int:
    if args.cast and args.wait:
        raise CtlError("restore --cast cannot --wait: a cast does not "
                       "return the restore's id; use a call",
                       USAGE_OR_TIMEOUT)
    options = options_from(args)
    for key, value in (("share_id", args.share_id),
                       ("restore_name", args.name),
                       ("restore_description", args.description)):
        if value is not None:
            options[key] = value
    ctxt = session.context()

    def send() -> tuple[dict | None, str | None]:
        if not args.cast:
            return session.api.restore(ctxt, args.checkpoint_id,
                                       options or None), None
        session.api.cast_restore(ctxt, args.checkpoint_id, options or None)
        return None, args.checkpoint_id

    return _submit(session, args, "restore", send)


def _configure_delete(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint_id", metavar="CHECKPOINT_ID")
    _add_request_arguments(parser)


def _run_delete(session: Session, args: argparse.Namespace) -> int:
    ctxt = session.context()

    def send() -> tuple[dict | None, str | None]:
        if not args.cast:
            return session.api.delete(ctxt, args.checkpoint_id), None
        session.api.cast_delete(ctxt, args.checkpoint_id)
        return None, args.checkpoint_id

    return _submit(session, args, "delete", send)


# -- show / list --------------------------------------------------------------

def _configure_show(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("checkpoint_id", metavar="CHECKPOINT_ID", nargs="?")
    which.add_argument("--restore", dest="restore_id", metavar="RESTORE_ID",
                       help="show this restore instead of a checkpoint")


def _run_show(session: Session, args: argparse.Namespace) -> int:
    if args.restore_id:
        record = session.api.show_restore(session.context(), args.restore_id)
    else:
        record = session.api.show_checkpoint(session.context(),
                                             args.checkpoint_id)
    session.printer.record(record)
    return 0


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--restores", action="store_true",
                        help="list restores instead of checkpoints")
    parser.add_argument("--status", help="only records in this status")
    parser.add_argument(
        "--filter", dest="filter_pairs", metavar="KEY=VALUE",
        type=string_pair, action="append", default=[],
        help="a filter, repeatable (checkpoints: resource_id, "
             "resource_type, policy_id, trigger; restores: checkpoint_id; "
             "project_id narrows --all-projects)")
    add_all_projects_argument(parser, "records")
    add_paging_arguments(parser, "record", "records")


def _run_list(session: Session, args: argparse.Namespace) -> int:
    filters = dict(args.filter_pairs)
    if args.status:
        filters["status"] = args.status
    if args.all_projects:
        filters["all_projects"] = True
    if args.restores:
        rows = session.api.list_restores(session.context(), filters or None,
                                         args.limit, args.marker)
        session.printer.table(rows, RESTORE_COLUMNS)
    else:
        rows = session.api.list_checkpoints(
            session.context(), filters or None, args.limit, args.marker)
        session.printer.table(rows, CHECKPOINT_COLUMNS)
    return 0


COMMANDS = {
    "protect": Command("protect a resource (make a checkpoint)",
                       _configure_protect, _run_protect),
    "restore": Command("restore a checkpoint to a new or the source share",
                       _configure_restore, _run_restore),
    "delete": Command("delete a checkpoint (its snapshot)",
                      _configure_delete, _run_delete),
    "show": Command("show a checkpoint, or a restore with --restore",
                    _configure_show, _run_show),
    "list": Command("list checkpoints, or restores with --restores",
                    _configure_list, _run_list),
}
