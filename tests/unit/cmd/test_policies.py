"""``share-worker-ctl policy ...``: what a command line sends to the
worker's policy methods (contract 1.1), what it refuses before sending,
and what people and programs read back."""

from __future__ import annotations

import io
import json
from typing import Any

import oslo_messaging
import pytest


def policy(policy_id: str = "pol-1", **changes: Any) -> dict:
    record = {"id": policy_id, "project_id": "proj-a", "name": "nightly",
              "enabled": True, "resources": {"all_shares": True},
              "schedule": {"cron": "30 2 * * *",
                           "timezone": "Europe/Paris"},
              "retention": {"max_count": 7, "max_age_seconds": None},
              "options": {"force": True},
              "triggers": ["share.create.end"],
              "next_run_at": "2024-05-02T00:30:00Z",
              "created_at": "2024-05-01T10:00:00Z",
              "updated_at": "2024-05-01T10:00:00Z"}
    record.update(changes)
    return record


def sent(api, method: str) -> dict:
    [(called, _, kwargs)] = api.calls
    assert called == method
    return kwargs


# -- create -------------------------------------------------------------------

def test_create_sends_the_policy_the_options_describe(ctl_main, api):
    api.answers["create_policy"] = policy()
    result = ctl_main("--project", "proj-a", "--user", "alice", "policy",
                      "create", "nightly", "--share", "s-1", "--share",
                      "s-2", "--cron", "30 2 * * *", "--timezone",
                      "Europe/Paris", "--max-count", "7", "--max-age",
                      "1209600", "--option", "force=true", "-o",
                      "description=auto", "--trigger", "share.create.end",
                      "--trigger", "share.extend.end", "--disabled")
    assert result.code == 0, result
    assert sent(api, "create_policy") == {"policy": {
        "name": "nightly",
        "resources": {"share_ids": ["s-1", "s-2"]},
        "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Paris"},
        "retention": {"max_count": 7, "max_age_seconds": 1209600},
        "options": {"force": True, "description": "auto"},
        "triggers": ["share.create.end", "share.extend.end"],
        "enabled": False}}
    ctxt = api.calls[0][1]
    assert (ctxt.project_id, ctxt.user_id) == ("proj-a", "alice")


@pytest.mark.parametrize("argv, expected", [
    (["--all-shares", "--interval", "3600"],
     {"resources": {"all_shares": True},
      "schedule": {"interval_seconds": 3600}}),
    (["--metadata", "tier=gold", "--metadata", "env=prod=1", "--cron",
      "0 * * * *", "--max-age", "60"],
     {"resources": {"metadata": {"tier": "gold", "env": "prod=1"}},
      "schedule": {"cron": "0 * * * *"},
      "retention": {"max_age_seconds": 60}}),
    (["--share", "s-1", "--options-json", '{"force": false}'],
     {"resources": {"share_ids": ["s-1"]}, "options": {"force": False}}),
])
def test_create_sends_only_what_is_given(ctl_main, api, argv, expected):
    api.answers["create_policy"] = policy()
    assert ctl_main("policy", "create", "p", *argv).code == 0
    assert sent(api, "create_policy")["policy"] == dict(expected, name="p")


def test_create_from_a_file_with_options_winning(ctl_main, api, tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({
        "name": "from-file", "resources": {"all_shares": True},
        "schedule": {"interval_seconds": 60}, "options": {"force": False,
                                                          "x": 1}}))
    api.answers["create_policy"] = policy()
    result = ctl_main("policy", "create", "--from-json", str(path),
                      "--share", "s-9", "-o", "force=true")
    assert result.code == 0, result
    assert sent(api, "create_policy")["policy"] == {
        "name": "from-file", "resources": {"share_ids": ["s-9"]},
        "schedule": {"interval_seconds": 60},
        "options": {"force": True, "x": 1}}


def test_create_from_stdin(ctl_main, api, monkeypatch):
    document = {"name": "piped", "resources": {"metadata": {"a": "b"}},
                "retention": None}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(document)))
    api.answers["create_policy"] = policy()
    assert ctl_main("policy", "create", "--from-json", "-").code == 0
    assert sent(api, "create_policy")["policy"] == document


# -- update -------------------------------------------------------------------

@pytest.mark.parametrize("argv, changes", [
    (["--disable"], {"enabled": False}),
    (["--disabled"], {"enabled": False}),
    (["--enable"], {"enabled": True}),
    (["--no-schedule", "--no-retention", "--no-triggers"],
     {"schedule": None, "retention": None, "triggers": []}),
    (["--name", "renamed", "--interval", "60", "--max-count", "3"],
     {"name": "renamed", "schedule": {"interval_seconds": 60},
      "retention": {"max_count": 3}}),
    (["--share", "s-3", "--trigger", "share.shrink.end", "-o",
      "force=false"],
     {"resources": {"share_ids": ["s-3"]},
      "triggers": ["share.shrink.end"], "options": {"force": False}}),
    (["--options-json", "{}"], {"options": {}}),
])
def test_update_sends_only_the_fields_given(ctl_main, api, argv, changes):
    api.answers["update_policy"] = policy()
    result = ctl_main("policy", "update", "pol-1", *argv)
    assert result.code == 0, result
    assert sent(api, "update_policy") == {"policy_id": "pol-1",
                                          "changes": changes}


def test_update_from_json_with_options_winning(ctl_main, api, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(
        '{"enabled": true, "triggers": ["share.create.end"]}'))
    api.answers["update_policy"] = policy()
    assert ctl_main("policy", "update", "pol-1", "--from-json", "-",
                    "--disable").code == 0
    assert sent(api, "update_policy")["changes"] == {
        "enabled": False, "triggers": ["share.create.end"]}


# -- usage errors -------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["policy"],
    ["policy", "frobnicate"],
    ["policy", "create", "p", "--share", "s", "--all-shares"],
    ["policy", "create", "p", "--metadata", "a=b", "--share", "s"],
    ["policy", "create", "p", "--all-shares", "--metadata", "a=b"],
    ["policy", "create", "p", "--all-shares", "--metadata", "nope"],
    ["policy", "create", "p", "--all-shares", "--cron", "* * * * *",
     "--interval", "5"],
    ["policy", "create", "p", "--all-shares", "--interval", "0"],
    ["policy", "create", "p", "--all-shares", "--max-count", "-1"],
    ["policy", "create", "p", "--all-shares", "--no-schedule"],
    ["policy", "update", "pol-1", "--enable", "--disable"],
    ["policy", "update", "pol-1", "--no-schedule", "--interval", "5"],
    ["policy", "update"],
    ["policy", "show"],
    ["policy", "list", "--limit", "0"],
])
def test_usage_errors_exit_2_without_calling(ctl_main, api, argv):
    result = ctl_main(*argv)
    assert result.code == 2
    assert "usage: share-worker-ctl" in result.err
    assert api.calls == []


@pytest.mark.parametrize("argv, message", [
    (["create", "p"], "policy create needs --share, --all-shares or "
                      "--metadata"),
    (["create", "--share", "s"], "policy create needs NAME"),
    (["create", "p", "--all-shares", "--timezone", "UTC"],
     "--timezone needs --cron"),
    (["create", "p", "--all-shares", "--from-json", "/no/such/file"],
     "--from-json /no/such/file: No such file"),
    (["update", "pol-1"], "policy update needs at least one change"),
    (["update", "pol-1", "--no-retention", "--max-age", "5"],
     "--no-retention cannot go with --max-count or --max-age"),
    (["update", "pol-1", "--no-triggers", "--trigger", "share.create.end"],
     "--no-triggers cannot go with --trigger"),
])
def test_incomplete_policies_exit_2_without_calling(ctl_main, api, argv,
                                                    message):
    result = ctl_main("policy", *argv)
    assert result.code == 2
    assert result.err.startswith("error: " + message), result.err
    assert result.out == ""
    assert api.calls == []


@pytest.mark.parametrize("text, message", [
    ("[1]", "expected a JSON object, not list"),
    ("{nope", "not JSON: "),
])
def test_from_json_must_be_an_object(ctl_main, api, monkeypatch, text,
                                     message):
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    result = ctl_main("policy", "create", "--from-json", "-")
    assert result.code == 2
    assert result.err.startswith("error: --from-json -: " + message)
    assert api.calls == []


def test_a_refused_policy_is_one_line_and_exit_1(ctl_main, api):
    api.errors["update_policy"] = oslo_messaging.RemoteError(
        "InvalidInput", "Invalid input: schedule.cron: bad field 1")
    result = ctl_main("policy", "update", "pol-1", "--cron", "61 * * * *")
    assert (result.code, result.out) == (1, "")
    assert result.err == ("error: InvalidInput: Invalid input: "
                          "schedule.cron: bad field 1\n")


# -- show / list / delete -----------------------------------------------------

def test_show_prints_the_policy_field_by_field(ctl_main, api):
    api.answers["show_policy"] = policy(retention=None, options={})
    result = ctl_main("policy", "show", "pol-1")
    assert sent(api, "show_policy") == {"policy_id": "pol-1"}
    assert result.out.splitlines() == ["%-21s  %s" % pair for pair in [
        ("id:", "pol-1"),
        ("name:", "nightly"),
        ("project_id:", "proj-a"),
        ("enabled:", "true"),
        ("resources.all_shares:", "true"),
        ("schedule.cron:", "30 2 * * *"),
        ("schedule.timezone:", "Europe/Paris"),
        ("retention:", "-"),
        ("options:", "-"),
        ("triggers:", "share.create.end"),
        ("next_run_at:", "2024-05-02T00:30:00Z"),
        ("created_at:", "2024-05-01T10:00:00Z"),
        ("updated_at:", "2024-05-01T10:00:00Z")]]


def test_show_json_is_the_record(ctl_main, api):
    record = policy(resources={"share_ids": ["s-1", "s-2"]})
    api.answers["show_policy"] = record
    result = ctl_main("policy", "show", "pol-1", "--json")
    assert result.json() == record
    assert result.err == ""


def test_list_sends_filters_limit_and_marker(ctl_main, api):
    api.answers["list_policies"] = []
    ctl_main("policy", "list", "--name", "nightly", "--project-id",
             "proj-b", "--limit", "5", "--marker", "pol-0")
    assert sent(api, "list_policies") == {
        "filters": {"name": "nightly", "project_id": "proj-b"},
        "limit": 5, "marker": "pol-0"}
    api.calls.clear()
    ctl_main("policy", "list")
    assert sent(api, "list_policies") == {"filters": None, "limit": None,
                                          "marker": None}


def test_list_is_a_table_in_words(ctl_main, api):
    api.answers["list_policies"] = [
        policy(),
        policy("pol-22", name="hourly", enabled=False,
               resources={"share_ids": ["s-1", "s-2"]},
               schedule={"interval_seconds": 3600},
               retention={"max_count": None, "max_age_seconds": 86400},
               next_run_at=None),
        policy("pol-3", name="gold", resources={"metadata": {"tier": "gold"}},
               schedule=None, retention=None, next_run_at=None)]
    out = ctl_main("policy", "list").out.splitlines()
    assert [line.split("  ")[0] for line in out] == ["ID", "pol-1",
                                                     "pol-22", "pol-3"]
    assert [cell.strip() for cell in out[0].split("  ") if cell] == [
        "ID", "NAME", "ENABLED", "RESOURCES", "SCHEDULE", "RETENTION",
        "NEXT RUN"]
    cells = [[c.strip() for c in line.split("  ") if c.strip()]
             for line in out[1:]]
    assert cells == [
        ["pol-1", "nightly", "true", "all shares",
         "30 2 * * * Europe/Paris", "max 7", "2024-05-02T00:30:00Z"],
        ["pol-22", "hourly", "false", "shares s-1, s-2", "every 3600s",
         "max age 86400s", "-"],
        ["pol-3", "gold", "true", "metadata tier=gold", "-", "-", "-"]]


def test_list_json_is_the_records(ctl_main, api):
    records = [policy(), policy("pol-2")]
    api.answers["list_policies"] = records
    assert ctl_main("--json", "policy", "list").json() == records


def test_delete_says_what_it_did(ctl_main, api):
    result = ctl_main("policy", "delete", "pol-1")
    assert result.code == 0
    assert sent(api, "delete_policy") == {"policy_id": "pol-1"}
    assert result.out == "policy pol-1 deleted (its checkpoints stay)\n"
    result = ctl_main("policy", "delete", "pol-1", "--json")
    assert result.json() == {"policy_id": "pol-1", "deleted": True}
    assert result.err == ""
