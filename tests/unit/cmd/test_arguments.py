"""What a command line turns into: RPC arguments and the caller's
context."""

from __future__ import annotations

import argparse

import pytest

from share_worker.cmd import ctl_session
from tests.unit.cmd.conftest import SHARE, checkpoint


@pytest.mark.parametrize("text, expected", [
    ("force=true", ("force", True)),
    ("force=false", ("force", False)),
    ("size=2", ("size", 2)),
    ("snapshot_name=nightly", ("snapshot_name", "nightly")),
    ('snapshot_name="2024"', ("snapshot_name", "2024")),
    ("description=a=b", ("description", "a=b")),
    ("description=", ("description", "")),
    ('metadata={"tier": "gold"}', ("metadata", {"tier": "gold"})),
])
def test_option_values_are_json_when_they_parse(text, expected):
    assert ctl_session.json_pair(text) == expected


@pytest.mark.parametrize("text", ["force", "=true", ""])
def test_an_option_needs_key_and_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        ctl_session.json_pair(text)


def test_protect_sends_resource_options_and_id(ctl_main, api):
    api.answers["protect"] = checkpoint()
    result = ctl_main("--project", "proj-a", "--user", "alice",
                      "--token", "tok", "protect", "share-1",
                      "--option", "force=true", "-o", "description=nightly",
                      "--checkpoint-id", "cp-1")
    assert result.code == 0, result
    [(method, ctxt, kwargs)] = api.calls
    assert method == "protect"
    assert kwargs == {"resource": {"type": SHARE, "id": "share-1"},
                      "options": {"force": True, "description": "nightly"},
                      "checkpoint_id": "cp-1"}
    assert (ctxt.project_id, ctxt.user_id, ctxt.auth_token) == (
        "proj-a", "alice", "tok")


def test_options_json_merges_under_option(ctl_main, api):
    ctl_main("protect", "share-1", "--type", "OS::Other::Thing",
             "--options-json", '{"force": false, "description": "x"}',
             "--option", "force=true")
    kwargs = api.calls[0][2]
    assert kwargs["resource"]["type"] == "OS::Other::Thing"
    assert kwargs["options"] == {"force": True, "description": "x"}


def test_no_options_are_sent_as_none(ctl_main, api):
    ctl_main("protect", "share-1")
    assert api.calls[0][2]["options"] is None
    assert api.calls[0][2]["checkpoint_id"] is None


@pytest.mark.parametrize("argv", [
    ["protect"],
    ["protect", "s", "--options-json", "[1]"],
    ["protect", "s", "--options-json", "{nope"],
    ["protect", "s", "--option", "force"],
    ["protect", "s", "--wait", "--timeout", "0"],
    ["show"],
    ["show", "cp-1", "--restore", "rs-1"],
    ["list", "--limit", "0"],
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2_without_calling(ctl_main, api, argv):
    result = ctl_main(*argv)
    assert result.code == 2
    assert "usage: share-worker-ctl" in result.err
    assert api.calls == []


def test_restore_flags_become_restore_options(ctl_main, api):
    ctl_main("restore", "cp-1", "--share-id", "share-9", "--name", "back",
             "--description", "from cp-1", "-o", "restore_name=ignored")
    method, _, kwargs = api.calls[0]
    assert method == "restore"
    assert kwargs == {"checkpoint_id": "cp-1",
                      "options": {"share_id": "share-9",
                                  "restore_name": "back",
                                  "restore_description": "from cp-1"}}


def test_list_sends_filters_limit_and_marker(ctl_main, api):
    api.answers["list_checkpoints"] = []
    ctl_main("list", "--status", "available", "--filter",
             "resource_id=123", "--limit", "5", "--marker", "cp-9")
    assert api.calls[0] == ("list_checkpoints", api.calls[0][1], {
        "filters": {"status": "available", "resource_id": "123"},
        "limit": 5, "marker": "cp-9"})
    api.answers["list_restores"] = []
    ctl_main("list", "--restores")
    assert api.calls[1][0] == "list_restores"
    assert api.calls[1][2]["filters"] is None


def test_show_a_restore(ctl_main, api):
    api.answers["show_restore"] = {"id": "rs-1"}
    ctl_main("show", "--restore", "rs-1")
    assert api.calls[0][0::2] == ("show_restore", {"restore_id": "rs-1"})


def test_protectables_actions(ctl_main, api):
    for method in ("list_protectable_types", "list_protectable_instances",
                   "list_protectable_dependents"):
        api.answers[method] = []
    for method in ("show_protectable_type", "show_protectable_instance",
                   "show_plugin_schemas"):
        api.answers[method] = {}
    ctl_main("--project", "proj-a", "protectables")
    ctl_main("protectables", "type", "OS::Keystone::Project")
    ctl_main("protectables", "instances", "-p", "status=available")
    ctl_main("protectables", "show", "share-1")
    ctl_main("--project", "proj-a", "protectables", "dependents")
    ctl_main("schemas")
    assert [(m, kw) for m, _, kw in api.calls] == [
        ("list_protectable_types", {}),
        ("show_protectable_type", {"resource_type":
                                   "OS::Keystone::Project"}),
        ("list_protectable_instances", {
            "resource_type": SHARE,
            "parameters": {"status": "available"}}),
        ("show_protectable_instance", {"resource_type": SHARE,
                                       "resource_id": "share-1"}),
        ("list_protectable_dependents", {
            "resource_type": "OS::Keystone::Project",
            "resource_id": "proj-a"}),
        ("show_plugin_schemas", {"resource_type": SHARE}),
    ]


def test_connection_settings_and_env_defaults(ctl_main, api, monkeypatch):
    monkeypatch.setenv("SHARE_WORKER_TRANSPORT_URL", "rabbit://u:p@mq:5672/")
    monkeypatch.setenv("OS_PROJECT_ID", "proj-env")
    monkeypatch.setenv("OS_USER_ID", "user-env")
    monkeypatch.setenv("OS_AUTH_TOKEN", "tok-env")
    api.answers["list_checkpoints"] = []
    ctl_main("--topic", "sw2", "--exchange", "ex2", "--timeout", "7",
             "list")
    assert api.made == [("rabbit://u:p@mq:5672/",
                         {"topic": "sw2", "exchange": "ex2",
                          "timeout": 7.0})]
    ctxt = api.calls[0][1]
    assert (ctxt.project_id, ctxt.user_id, ctxt.auth_token) == (
        "proj-env", "user-env", "tok-env")
    assert api.closed


def test_defaults_without_env(ctl_main, api):
    api.answers["list_checkpoints"] = []
    ctl_main("list")
    assert api.made == [("rabbit://guest:guest@127.0.0.1:5672/",
                         {"topic": "share_worker",
                          "exchange": "share_worker", "timeout": 60.0})]
    assert api.calls[0][1].project_id is None


def test_json_flag_after_the_subcommand(ctl_main, api):
    api.answers["show_checkpoint"] = checkpoint()
    assert ctl_main("show", "cp-1", "--json").json()["id"] == "cp-1"
    assert ctl_main("--json", "show", "cp-1").json()["id"] == "cp-1"
    api.answers["list_protectable_types"] = [SHARE]
    assert ctl_main("protectables", "types", "--json").json() == [
        {"name": SHARE}]
