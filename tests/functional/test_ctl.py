"""``share-worker-ctl`` against the real RabbitMQ and a real worker: what
a person types, what they see, and the exit codes scripts rely on."""

from __future__ import annotations

import json
import os
import pathlib
import queue
import subprocess
import sys
import threading
import time
from typing import NamedTuple

import pytest

from share_worker.cmd import ctl
from share_worker.testing import rabbitmq
from tests.functional.conftest import PROJECT

SHARE = "OS::Manila::Share"
SCRIPT = pathlib.Path(sys.executable).with_name("share-worker-ctl")


class Result(NamedTuple):
    code: int
    out: str
    err: str

    def json(self):
        assert self.code == 0, self
        return json.loads(self.out)

    def field(self, name: str) -> str:
        """A ``key: value`` line's value."""
        for line in self.out.splitlines():
            key, _, value = line.partition(":")
            if key == name:
                return value.strip()
        raise AssertionError("no %s line in %r" % (name, self.out))


class Ctl:
    """Runs ``share-worker-ctl`` in-process or as a subprocess, pointed at
    this test's worker."""

    def __init__(self, base: list[str], capsys) -> None:
        self.base = base
        self._capsys = capsys

    def __call__(self, *args: str) -> Result:
        code = ctl.main([*self.base, *args])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def popen(self, *args: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        return subprocess.Popen([str(SCRIPT), *self.base, *args],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture
def run_ctl(worker_conf, rabbit_vhost, capsys):
    return Ctl(["--transport-url", rabbit_vhost.url,
                "--topic", worker_conf.share_worker.topic,
                "--notifications-topic",
                worker_conf.oslo_messaging_notifications.topics[0],
                "--project", PROJECT, "--user", "user-1",
                "--timeout", "30"], capsys)


class Lines:
    """The lines of a subprocess's stream, read by a thread of its own."""

    def __init__(self, stream) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,),
                         daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.seen or text not in self.seen[-1]:
            left = max(deadline - time.monotonic(), 0.0)
            try:
                self.seen.append(self._queue.get(timeout=left))
            except queue.Empty as e:
                raise AssertionError("no line with %r within %.0fs; saw %r"
                                     % (text, timeout, self.seen)) from e


def ctl_queues(vhost: rabbitmq.VirtualHost) -> list[str]:
    out = subprocess.run(
        ["rabbitmqctl", "list_queues", "-q", "-p", vhost.name, "name"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    return [q for q in out.split() if q.startswith("share-worker-ctl-")]


def test_protect_wait_then_show_and_list(start_service, run_ctl, sim,
                                         rabbit_vhost):
    start_service()
    share_id = sim.sim.create_share(PROJECT, size=2)

    result = run_ctl("protect", share_id, "--option", "force=true",
                     "--wait", "--timeout", "60")
    assert result.code == 0, result
    assert "share_worker.checkpoint.protect.start" in result.out
    assert "share_worker.checkpoint.protect.end" in result.out
    assert result.field("status") == "available"
    assert result.field("options.force") == "true"
    assert result.field("saved_info.share_id") == share_id
    checkpoint_id = result.field("id")
    assert ctl_queues(rabbit_vhost) == []

    shown = run_ctl("show", checkpoint_id)
    assert shown.code == 0
    assert shown.field("status") == "available"
    assert shown.field("resource.id") == share_id

    listed = run_ctl("list", "--status", "available")
    header, row = listed.out.splitlines()
    assert header.split()[:2] == ["ID", "RESOURCE"]
    assert row.split()[:4] == [checkpoint_id, SHARE, share_id, "available"]
    assert run_ctl("list", "--json").json()[0]["id"] == checkpoint_id
    assert run_ctl("--json", "list", "--status", "error").json() == []


def test_restore_wait_and_delete_cast_watched(start_service, run_ctl, sim,
                                              events):
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    checkpoint = run_ctl("--json", "protect", share_id,
                         "--checkpoint-id", "ctl-cp-1").json()
    assert (checkpoint["id"], checkpoint["status"]) == ("ctl-cp-1",
                                                        "protecting")
    events.wait("ctl-cp-1", "share_worker.checkpoint.protect.end")

    restored = run_ctl("--json", "restore", "ctl-cp-1", "--name", "back",
                       "--wait", "--timeout", "60")
    record = restored.json()
    assert record["status"] == "success"
    assert "share_worker.restore.end" in restored.err
    assert sim.sim.share(record["target"]["share_id"])["name"] == "back"
    shown = run_ctl("show", "--restore", record["id"], "--json").json()
    assert shown["target"]["mode"] == "new"
    assert [r["id"] for r in run_ctl("--json", "list", "--restores").json()
            ] == [record["id"]]

    watch = run_ctl.popen("--json", "watch", "--checkpoint", "ctl-cp-1",
                          "--count", "2", "--timeout", "60")
    err = Lines(watch.stderr)
    try:
        err.wait_for("watching")
        sent = run_ctl("delete", "ctl-cp-1", "--cast")
        assert sent.code == 0
        assert "ctl-cp-1" in sent.out
        assert watch.wait(timeout=90) == 0, err.seen
    finally:
        watch.kill()
        watch.wait()
    watched = [json.loads(line) for line in watch.stdout.read().splitlines()]
    assert [(w["event_type"], w["payload"]["status"]) for w in watched] == [
        ("share_worker.checkpoint.delete.start", "deleting"),
        ("share_worker.checkpoint.delete.end", "deleted")]
    assert run_ctl("show", "ctl-cp-1").field("status") == "deleted"


def test_protect_wait_as_a_subprocess(start_service, run_ctl, sim):
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    proc = run_ctl.popen("protect", share_id, "--wait", "--timeout", "60")
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "share_worker.checkpoint.protect.end" in out
    assert Result(0, out, err).field("status") == "available"
    assert "Traceback" not in err and "Eventlet" not in err


def test_worker_refusals_are_one_line_and_exit_1(start_service, run_ctl,
                                                  sim):
    start_service()
    result = run_ctl("show", "no-such-checkpoint")
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("error: CheckpointNotFound: ")
    assert "no-such-checkpoint" in result.err
    assert "Traceback" not in result.err

    failed = run_ctl("protect", "no-such-share", "--wait")
    assert failed.code == 1
    assert failed.field("status") == "error"
    assert failed.field("error.code") == "ResourceNotFound"
    assert failed.err.startswith("error: checkpoint ")
    assert "ended error: ResourceNotFound: " in failed.err


def test_refused_cast_with_wait_exits_1(start_service, run_ctl, sim):
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    result = run_ctl("protect", share_id, "--cast", "--checkpoint-id",
                     "ctl-bad", "--option", "force=1", "--wait",
                     "--timeout", "5")
    assert result.code == 1
    assert "share_worker.checkpoint.protect.error" in result.out
    assert "error: checkpoint ctl-bad ended error: InvalidInput" in \
        result.err


def test_protectables_and_schemas(start_service, run_ctl, sim):
    start_service()
    share_id = sim.sim.create_share(PROJECT, name="data")
    sim.sim.create_share("proj-b")

    types = run_ctl("protectables")
    assert types.out.split() == ["TYPE", "OS::Keystone::Project", SHARE]
    instances = run_ctl("protectables", "instances", "--json").json()
    assert [(i["type"], i["id"], i["name"]) for i in instances] == [
        (SHARE, share_id, "data")]
    dependents = run_ctl("protectables", "dependents")
    assert dependents.out.splitlines()[1].split() == [SHARE, share_id,
                                                      "data"]
    shown = run_ctl("protectables", "show", share_id)
    assert shown.field("name") == "data"
    kind = run_ctl("protectables", "type", "OS::Keystone::Project")
    assert kind.field("dependent_types") == SHARE

    schemas = run_ctl("schemas")
    assert schemas.code == 0
    assert "options_schema: Share Protection Options" in schemas.out
    force = [line for line in schemas.out.splitlines()
             if line.startswith("force ")]
    assert force[0].split()[:4] == ["force", "boolean", "false", "yes"]
    unsupported = run_ctl("schemas", "OS::Nova::Server")
    assert unsupported.code == 1
    assert unsupported.err.startswith("error: UnsupportedResourceType: ")


def test_no_worker_is_a_clear_timeout(worker_conf, run_ctl):
    result = run_ctl("--timeout", "1", "list")
    assert result.code == 2
    assert "no reply within 1.0s" in result.err
    assert worker_conf.share_worker.topic in result.err
    assert "guest:***@" in result.err
