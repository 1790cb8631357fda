"""How an engine process lowers its CPU priority (engine_priority)."""

import os

import pytest

from share_worker import service
from share_worker.cmd import engine as engine_cmd


@pytest.fixture
def calls(monkeypatch):
    seen = []
    monkeypatch.setattr(engine_cmd.os, "sched_setscheduler",
                        lambda pid, policy, param: seen.append(
                            ("sched", pid, policy)))
    monkeypatch.setattr(engine_cmd.os, "nice",
                        lambda inc: seen.append(("nice", inc)))
    return seen


def test_idle_takes_sched_idle_and_leaves_niceness(calls):
    engine_cmd.lower_priority("idle", 10)
    assert calls == [("sched", 0, os.SCHED_IDLE)]


def test_idle_falls_back_to_engine_nice_where_sched_idle_fails(
        monkeypatch, calls, caplog):
    def refuse(pid, policy, param):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(engine_cmd.os, "sched_setscheduler", refuse)
    engine_cmd.lower_priority("idle", 10)
    assert calls == [("nice", 10)]
    assert "SCHED_IDLE is not available" in caplog.text


def test_low_adds_engine_nice(calls):
    engine_cmd.lower_priority("low", 7)
    assert calls == [("nice", 7)]


@pytest.mark.parametrize("priority, nice", [("normal", 10), ("low", 0)])
def test_normal_or_zero_niceness_changes_nothing(calls, priority, nice):
    engine_cmd.lower_priority(priority, nice)
    assert calls == []


def test_a_refused_nice_is_logged_not_raised(monkeypatch, caplog):
    def refuse(inc):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(engine_cmd.os, "nice", refuse)
    engine_cmd.lower_priority("low", 5)
    assert "Could not lower" in caplog.text


@pytest.mark.parametrize("connection, priority, expected", [
    ("postgresql+psycopg2://u@db/sw", "idle", "idle"),
    ("sqlite:////var/lib/share_worker/sw.sqlite", "idle", "low"),
    ("", "idle", "low"),                  # the default SQLite file
    ("sqlite:////var/lib/share_worker/sw.sqlite", "normal", "normal"),
    ("postgresql+psycopg2://u@db/sw", "low", "low"),
])
def test_idle_needs_postgresql(conf, connection, priority, expected):
    conf.set_override("connection", connection, group="database")
    conf.set_override("engine_priority", priority, group="share_worker")
    assert engine_cmd.engine_priority(conf) == expected


@pytest.mark.parametrize("processes, url, engines", [
    (0, "sqlite:////tmp/x.sqlite", False),
    (1, "sqlite:////tmp/x.sqlite", False),
    (1, "postgresql+psycopg2://db/sw", True),
    (0, "postgresql+psycopg2://db/sw", False)])
def test_who_publishes_the_status_events(conf, processes, url, engines):
    """Engine processes at idle priority (PostgreSQL) publish on spare
    CPU; niced ones (SQLite) leave it to the share-worker process, so
    their CPU goes to Manila work; one process publishes its own."""
    conf.set_override("engine_processes", processes, group="share_worker")
    conf.set_override("connection", url, group="database")
    assert service.engines_publish(conf) is engines
