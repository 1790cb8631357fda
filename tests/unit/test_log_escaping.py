"""A caller-supplied newline or control character never starts a line
of the worker's log: the whole formatted record is escaped, oslo.log's
context fields included, and tracebacks keep one line per exception."""

import io
import logging

from oslo_config import cfg
from oslo_context import context as o_context
from oslo_log import formatters
from oslo_log import log as oslo_log

from share_worker import log_escaping

FORGED = "x\n1999-01-01 12:00:00.000 1 ERROR share_worker forged\r\x1b[2K"


def logger_with(formatter):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log = logging.getLogger("test.escaping.%d" % id(stream))
    log.propagate = False
    log.handlers = [handler]
    log_escaping.install(log)
    return log, stream


def oslo_formatter():
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf([], default_config_files=[])
    return formatters.ContextFormatter(config=conf, project="share_worker")


def test_a_forged_argument_stays_on_its_line():
    log, stream = logger_with(logging.Formatter("%(levelname)s %(message)s"))
    log.warning("refused %s (request %s)", FORGED, FORGED)
    text = stream.getvalue()
    assert text.count("\n") == 1, text
    assert "\\n1999-01-01" in text and "\\r\\x1b[2K" in text


def test_a_forged_request_id_in_the_context_stays_on_its_line():
    log, stream = logger_with(oslo_formatter())
    ctx = o_context.RequestContext(request_id="req-1" + FORGED,
                                   user_id="u" + FORGED, project_id="p",
                                   overwrite=False)
    log.warning("refused", extra={"context": ctx})
    text = stream.getvalue()
    assert text.count("\n") == 1, text
    assert "req-1x\\n1999" in text


def test_a_traceback_keeps_its_lines_and_escapes_the_message():
    log, stream = logger_with(oslo_formatter())
    try:
        try:
            raise KeyError("inner" + FORGED)
        except KeyError as e:
            raise RuntimeError("Manila said: " + FORGED) from e
    except RuntimeError:
        log.exception("step failed")
    lines = stream.getvalue().rstrip("\n").split("\n")
    assert "step failed" in lines[0]
    assert lines[1] == "Traceback (most recent call last):"
    assert any(line.startswith("  File ") for line in lines)
    forged = [line for line in lines[1:] if "forged" in line]
    # one line per exception (oslo.log may add a summary to the first)
    assert [line.split(":")[0] for line in forged] == [
        "KeyError", "RuntimeError"], lines
    assert not any(line.startswith("1999-01-01") for line in lines)
    assert any("direct cause" in line for line in lines)


def test_printable_text_is_untouched():
    assert log_escaping.escape("checkpoint cp-1: snapshot é ok") == \
        "checkpoint cp-1: snapshot é ok"
    assert log_escaping.escape("a\u2028b\tc") == "a\\u2028b\\tc"
