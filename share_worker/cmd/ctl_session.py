"""What every ``share-worker-ctl`` command is handed, and the argument
types they share::

    session = Session(args, printer, api_factory, listener_factory)
    session.api.show_checkpoint(session.context(), "cp-1")
    listener = session.listen(inbox)     # started; listener.stop() ends it

A command returns its exit code, or raises :class:`CtlError` once it
knows what to tell the person.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from oslo_context import context as o_context

from share_worker.cmd.ctl_output import Printer

#: exit codes
FAILED = 1
USAGE_OR_TIMEOUT = 2


class CtlError(Exception):
    """Raised when a command ends in a failure it can explain."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Command(NamedTuple):
    """One subcommand: its help line, its arguments and what it does."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Session, argparse.Namespace], int]


class Session:
    """The parsed arguments, the output, and lazily the RPC client."""

    def __init__(self, args: argparse.Namespace, printer: Printer,
                 api_factory: Callable[..., Any],
                 listener_factory: Callable[..., Any]) -> None:
        self.args = args
        self.printer = printer
        self._api_factory = api_factory
        self._listener_factory = listener_factory
        self._api: Any = None

    @property
    def api(self) -> Any:
        if self._api is None:
            self._api = self._api_factory(
                self.args.transport_url, topic=self.args.topic,
                exchange=self.args.exchange, timeout=self.args.rpc_timeout)
        return self._api

    def context(self) -> o_context.RequestContext:
        return o_context.RequestContext(user_id=self.args.user,
                                        project_id=self.args.project,
                                        auth_token=self.args.token)

    def listen(self, endpoint: Any) -> Any:
        """A started notification listener handing events to *endpoint*."""
        return self._listener_factory(
            transport_url=self.args.transport_url,
            exchange=self.args.exchange,
            topic=self.args.notifications_topic, endpoint=endpoint)

    def where(self) -> str:
        """Where requests go, for messages (no password)."""
        return "topic %r, exchange %r at %s" % (
            self.args.topic, self.args.exchange,
            safe_url(self.args.transport_url))

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None


def safe_url(url: str) -> str:
    """*url* with its passwords masked."""
    return re.sub(r"([/,][^:/@,]*:)[^@/,]*@", r"\1***@", url)


# -- argument types -----------------------------------------------------------

def _split(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, not %r" % text)
    return key, value


def json_pair(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses
    (``force=true`` -> True), else kept as a string."""
    key, value = _split(text)
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def string_pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` with VALUE kept as a string."""
    return _split(text)


def json_object(text: str) -> dict:
    """A JSON object given on the command line."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError("not JSON: %s" % e) from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            "expected a JSON object, not %s" % type(value).__name__)
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            "expected a positive integer, not %r" % text)
    return value


def add_paging_arguments(parser: argparse.ArgumentParser, one: str,
                         many: str) -> None:
    """``--limit`` and ``--marker`` of a list command over *many*."""
    parser.add_argument("--limit", type=positive_int,
                        help="at most this many %s" % many)
    parser.add_argument("--marker", metavar="ID",
                        help="start after this %s (the last one of the "
                             "previous page)" % one)


def add_all_projects_argument(parser: argparse.ArgumentParser,
                              many: str) -> None:
    """``--all-projects``: every project's *many*, where the worker's
    ``get_all_projects`` policy rule allows it (admins by default)."""
    parser.add_argument("--all-projects", action="store_true",
                        help="the %s of every project (the worker's "
                             "share_worker:*:get_all_projects policy rule "
                             "must allow it: admins by default)" % many)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            "expected a positive number of seconds, not %r" % text)
    return value


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json`` after the subcommand too (the global one otherwise)."""
    parser.add_argument("--json", dest="as_json", action="store_true",
                        default=argparse.SUPPRESS,
                        help="machine output (as the global --json)")


def add_options_arguments(parser: argparse.ArgumentParser,
                          what: str) -> None:
    parser.add_argument(
        "--option", "-o", dest="option_pairs", metavar="KEY=VALUE",
        type=json_pair, action="append", default=[],
        help="a %s option, repeatable; VALUE is read as JSON when it "
             "parses (force=true, size=2), else as a string" % what)
    parser.add_argument(
        "--options-json", type=json_object, metavar="JSON",
        help="%s options as one JSON object (--option entries win)" % what)


def options_from(args: argparse.Namespace) -> dict:
    """The options given with ``--options-json`` and ``--option``."""
    options = dict(args.options_json or {})
    options.update(args.option_pairs)
    return options
