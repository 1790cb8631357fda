"""Log lines a caller can't forge: every control character of a record
(a newline in a request id, a name, Manila's error text ...) is written
escaped, so it can't start a line of its own::

    oslo_log.log.setup(conf, "share_worker")
    log_escaping.install()          # wraps the root logger's formatters
    LOG.warning("refused %s", "x\\n2026-12-01 ERROR forged")
    # ... refused x\\n2026-12-01 ERROR forged      (one line)

A record is formatted by the handler's own formatter (oslo.log's) and
the result escaped whole: the message, the context's request id and
user identity, oslo.log's error summary. A traceback follows on lines of
its own, as usual, its stack frames as Python prints them and each
exception's message escaped to one line.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType

_CAUSE = ("\nThe above exception was the direct cause of the following "
          "exception:\n")
_CONTEXT = ("\nDuring handling of the above exception, another exception "
            "occurred:\n")


def escape(text: str) -> str:
    """*text* with every non-printable character (newlines, carriage
    returns, tabs, escape sequences, Unicode line separators) written as
    its Python escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def traceback_lines(error: BaseException) -> list[str]:
    """*error*'s traceback, chained exceptions first, each exception's
    own text on one escaped line."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and \
                not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    lines: list[str] = []
    for item, following in reversed(chain):
        tb: TracebackType | None = item.__traceback__
        if tb is not None:
            lines.append("Traceback (most recent call last):")
            for frame in traceback.format_tb(tb):
                lines.extend(frame.rstrip("\n").split("\n"))
        only = "".join(traceback.format_exception_only(type(item), item))
        lines.append(escape(only.rstrip("\n")))
        if following:
            lines.extend(following.rstrip("\n").split("\n"))
    return lines


class EscapingFormatter(logging.Formatter):
    """Formats with *inner*, then escapes what a caller may have put in
    the line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        exc_info, exc_text = record.exc_info, record.exc_text
        stack_info = record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            line = escape(self.inner.format(record))
        finally:
            record.exc_info, record.exc_text = exc_info, exc_text
            record.stack_info = stack_info
        extra: list[str] = []
        if exc_info and exc_info[1] is not None:
            extra.extend(traceback_lines(exc_info[1]))
        elif exc_text:
            extra.extend(escape(t) for t in exc_text.split("\n"))
        if stack_info:
            extra.extend(stack_info.split("\n"))
        return "\n".join([line] + extra)


def install(logger: logging.Logger | None = None) -> None:
    """Wrap the formatter of every handler of *logger* (the root)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not isinstance(handler.formatter, EscapingFormatter):
            handler.setFormatter(EscapingFormatter(
                handler.formatter or logging.Formatter()))
