"""``share-worker-ctl policy ...`` against the real RabbitMQ, a real
worker and the Manila simulator: create, show, list, update and delete
a protection policy as a person would, and the worker's refusals."""

from __future__ import annotations

import json

import pytest

from tests.functional.conftest import PROJECT
from tests.functional.test_ctl import Ctl


@pytest.fixture
def run_ctl(worker_conf, rabbit_vhost, capsys) -> Ctl:
    """test_ctl's ``run_ctl``: pointed at this test's worker."""
    return Ctl(["--transport-url", rabbit_vhost.url,
                "--topic", worker_conf.share_worker.topic,
                "--project", PROJECT, "--user", "user-1",
                "--timeout", "30"], capsys)


def test_policy_create_show_list_update_delete(start_service, run_ctl,
                                               sim, tmp_path):
    start_service()
    share_id = sim.sim.create_share(PROJECT, name="data")

    created = run_ctl("policy", "create", "nightly", "--share", share_id,
                      "--cron", "30 2 * * *", "--timezone", "Europe/Paris",
                      "--max-count", "7", "--option", "force=true",
                      "--trigger", "share.create.end")
    assert created.code == 0, created
    policy_id = created.field("id")
    assert created.field("project_id") == PROJECT
    assert created.field("enabled") == "true"
    assert created.field("resources.share_ids") == share_id
    assert created.field("schedule.cron") == "30 2 * * *"
    assert created.field("schedule.timezone") == "Europe/Paris"
    assert created.field("retention.max_count") == "7"
    assert created.field("retention.max_age_seconds") == "-"
    assert created.field("options.force") == "true"
    assert created.field("triggers") == "share.create.end"
    assert created.field("next_run_at") != "-"

    shown = run_ctl("policy", "show", policy_id, "--json").json()
    assert shown["id"] == policy_id
    assert shown["resources"] == {"share_ids": [share_id]}

    path = tmp_path / "gold.json"
    path.write_text(json.dumps({"name": "gold",
                                "resources": {"metadata": {"tier": "gold"}},
                                "schedule": {"interval_seconds": 3600}}))
    gold = run_ctl("--json", "policy", "create", "--from-json", str(path),
                   "--disabled").json()
    assert (gold["enabled"], gold["next_run_at"]) == (False, None)

    listed = run_ctl("policy", "list")
    header, *rows = listed.out.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "ENABLED"]
    assert [row.split()[:3] for row in rows] == [
        [gold["id"], "gold", "false"], [policy_id, "nightly", "true"]]
    assert "30 2 * * * Europe/Paris" in rows[1]
    assert "metadata tier=gold" in rows[0] and "every 3600s" in rows[0]
    assert [p["id"] for p in run_ctl(
        "--json", "policy", "list", "--name", "nightly").json()] == [
        policy_id]
    assert [p["id"] for p in run_ctl(
        "--json", "policy", "list", "--limit", "1", "--marker",
        gold["id"]).json()] == [policy_id]

    updated = run_ctl("policy", "update", policy_id, "--name", "hourly",
                      "--interval", "3600", "--no-retention", "--disable")
    assert updated.code == 0, updated
    assert updated.field("name") == "hourly"
    assert updated.field("schedule.interval_seconds") == "3600"
    assert updated.field("retention") == "-"
    assert (updated.field("enabled"), updated.field("next_run_at")) == (
        "false", "-")
    assert updated.field("options.force") == "true"   # not sent, kept
    enabled = run_ctl("--json", "policy", "update", policy_id,
                      "--enable").json()
    assert enabled["enabled"] is True and enabled["next_run_at"]

    deleted = run_ctl("policy", "delete", policy_id)
    assert (deleted.code, deleted.out) == (
        0, "policy %s deleted (its checkpoints stay)\n" % policy_id)
    gone = run_ctl("policy", "show", policy_id)
    assert gone.code == 1 and gone.out == ""
    assert gone.err.startswith("error: PolicyNotFound: ")
    assert [p["id"] for p in run_ctl("--json", "policy", "list").json()
            ] == [gold["id"]]


def test_policy_refusals_and_usage_errors(start_service, run_ctl):
    start_service()
    refused = run_ctl("policy", "create", "bad", "--all-shares", "--cron",
                      "61 * * * *")
    assert refused.code == 1 and refused.out == ""
    assert refused.err.startswith("error: InvalidInput: ")
    assert "cron" in refused.err and "Traceback" not in refused.err

    zone = run_ctl("policy", "create", "bad", "--all-shares", "--cron",
                   "0 2 * * *", "--timezone", "Nowhere/X")
    assert zone.code == 1
    assert zone.err.startswith("error: InvalidInput: ")

    usage = run_ctl("policy", "create", "bad", "--share", "s-1",
                    "--all-shares")
    assert usage.code == 2
    assert "not allowed with argument" in usage.err
    assert run_ctl("--json", "policy", "list").json() == []
