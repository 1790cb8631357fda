"""Failures a person meets: one ``error:`` line, an exit code, never a
traceback."""

from __future__ import annotations

import oslo_messaging
import pytest

from share_worker.cmd import ctl_session


def test_a_refusal_is_one_line_and_exit_1(ctl_main, api):
    api.errors["show_checkpoint"] = oslo_messaging.RemoteError(
        "CheckpointNotFound", "Checkpoint nope could not be found",
        "Traceback (most recent call last): ...")
    result = ctl_main("show", "nope")
    assert result.code == 1
    assert result.out == ""
    assert result.err == ("error: CheckpointNotFound: Checkpoint nope "
                          "could not be found\n")
    assert api.closed


def test_a_refusal_with_json_still_goes_to_stderr(ctl_main, api):
    api.errors["protect"] = oslo_messaging.RemoteError(
        "InvalidInput", "Invalid input: force: 1 is not of type 'boolean'")
    result = ctl_main("--json", "protect", "s-1", "-o", "force=1")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("error: InvalidInput: Invalid input")


def test_no_reply_names_topic_and_transport_without_password(ctl_main, api):
    api.errors["list_checkpoints"] = oslo_messaging.MessagingTimeout("x")
    result = ctl_main("--transport-url", "rabbit://me:secret@mq:5672/vh",
                      "--topic", "sw-9", "--timeout", "3", "list")
    assert result.code == 2
    assert "no reply within 3.0s" in result.err
    assert "topic 'sw-9', exchange 'share_worker'" in result.err
    assert "rabbit://me:***@mq:5672/vh" in result.err
    assert "secret" not in result.err


def test_other_messaging_failures_exit_1(ctl_main, api):
    api.errors["delete"] = oslo_messaging.MessageDeliveryFailure("gone")
    result = ctl_main("delete", "cp-1")
    assert result.code == 1
    assert result.err.startswith("error: messaging failed on topic ")


def test_interrupted_exits_130(ctl_main, api):
    api.errors["list_checkpoints"] = KeyboardInterrupt()
    result = ctl_main("list")
    assert result.code == 130
    assert result.err.startswith("error: interrupted")
    assert api.closed


def test_restore_cast_cannot_wait(ctl_main, api, bus):
    result = ctl_main("restore", "cp-1", "--cast", "--wait")
    assert result.code == 2
    assert "restore --cast cannot --wait" in result.err
    assert api.calls == [] and bus.started == []


def test_help_exits_0(ctl_main, capsys):
    result = ctl_main("--help")
    assert result.code == 0
    for command in ("protect", "restore", "delete", "show", "list", "watch",
                    "protectables", "schemas", "policy"):
        assert command in result.out


@pytest.mark.parametrize("url, expected", [
    ("rabbit://guest:guest@127.0.0.1:5672/",
     "rabbit://guest:***@127.0.0.1:5672/"),
    ("rabbit://a:p1@h1:5672,b:p2@h2:5672/vh",
     "rabbit://a:***@h1:5672,b:***@h2:5672/vh"),
    ("rabbit://h1:5672/", "rabbit://h1:5672/"),
    ("fake://", "fake://"),
])
def test_safe_url(url, expected):
    assert ctl_session.safe_url(url) == expected
