"""The parser and dispatcher behind ``share-worker-ctl`` (see
:mod:`share_worker.cmd.ctl`)::

    code = run(["--project", "proj-a", "list"])

Subcommands come from the ``COMMANDS`` dicts of ``ctl_records``,
``ctl_resources``, ``ctl_policies`` and ``ctl_watch``; what the worker
refuses and what times out become one ``error:`` line on stderr and an
exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import oslo_messaging

from share_worker import rpcapi
from share_worker.cmd import (
    ctl_events,
    ctl_policies,
    ctl_records,
    ctl_resources,
    ctl_watch,
)
from share_worker.cmd.ctl_output import Printer
from share_worker.cmd.ctl_session import (
    FAILED,
    USAGE_OR_TIMEOUT,
    Command,
    CtlError,
    Session,
    add_json_flag,
    seconds,
)

DEFAULT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
RPC_TIMEOUT = 60.0
INTERRUPTED = 130

COMMANDS: dict[str, Command] = {**ctl_records.COMMANDS,
                                **ctl_resources.COMMANDS,
                                **ctl_policies.COMMANDS,
                                **ctl_watch.COMMANDS}


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, no LOGNAME
        return None


def _add_global_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    add = parser.add_argument
    add("--transport-url", default=env("SHARE_WORKER_TRANSPORT_URL",
                                       DEFAULT_URL),
        help="oslo.messaging transport URL (env SHARE_WORKER_TRANSPORT_URL, "
             "default %s)" % DEFAULT_URL)
    add("--topic", default=rpcapi.TOPIC,
        help="the worker's RPC topic (default %(default)s)")
    add("--exchange", default=rpcapi.EXCHANGE,
        help="the worker's exchange (default %(default)s)")
    add("--notifications-topic", default="notifications",
        help="the status events' topic (default %(default)s)")
    add("--project", default=env("OS_PROJECT_ID"),
        help="project id of the request context (env OS_PROJECT_ID)")
    add("--user", default=env("OS_USER_ID") or _login(),
        help="user id of the request context (env OS_USER_ID, default "
             "the login name)")
    add("--token", default=env("OS_AUTH_TOKEN"),
        help="Keystone token for the worker and Manila (env OS_AUTH_TOKEN)")
    add("--timeout", dest="rpc_timeout", type=seconds, default=RPC_TIMEOUT,
        metavar="SECONDS", help="how long to wait for the worker's reply "
        "to a call (default %(default)s); --wait has its own --timeout")
    add("--json", dest="as_json", action="store_true",
        help="machine output: one JSON document (one object per line for "
             "watch)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="share-worker-ctl",
        description="Protect, restore and delete Manila shares through "
                    "share_worker, manage protection policies; follow "
                    "their status events.")
    _add_global_arguments(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     required=True)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help,
                                  description=command.help)
        add_json_flag(sub)
        command.configure(sub)
    return parser


def _dispatch(session: Session) -> int:
    args = session.args
    printer = session.printer
    try:
        return COMMANDS[args.command].run(session, args)
    except oslo_messaging.RemoteError as e:
        printer.error("%s: %s" % (e.exc_type, e.value))
        return FAILED
    except oslo_messaging.MessagingTimeout:
        printer.error("no reply within %ss from share_worker on %s; is a "
                      "worker running there? (--transport-url, --topic, "
                      "--timeout)" % (args.rpc_timeout, session.where()))
        return USAGE_OR_TIMEOUT
    except oslo_messaging.MessagingException as e:
        printer.error("messaging failed on %s: %s" % (session.where(), e))
        return FAILED
    except CtlError as e:
        printer.error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        printer.error("interrupted (a request already sent goes on)")
        return INTERRUPTED
    finally:
        session.close()


def run(argv: Sequence[str] | None = None,
        api_factory: Callable[..., Any] | None = None,
        listener_factory: Callable[..., Any] | None = None) -> int:
    """Parse *argv*, run the command, map failures to exit codes."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error (already printed)
        return e.code if isinstance(e.code, int) else USAGE_OR_TIMEOUT
    printer = Printer(sys.stdout, sys.stderr, args.as_json)
    session = Session(args, printer,
                      api_factory or rpcapi.ShareWorkerAPI.from_url,
                      listener_factory or ctl_events.listen)
    return _dispatch(session)
